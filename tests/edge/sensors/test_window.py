"""Rolling means: window, order, duplicates, energy means; the hub's routing."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from contracts.sensors import Quantity
from edge.sensors import RollingWindow, SensorHub, SensorSample

T0 = datetime(2026, 6, 2, tzinfo=UTC)


def s(minute: float, value: float, sensor: str = "d", site: str = "site-7") -> SensorSample:
    return SensorSample(site, sensor, Quantity.PM10, value, T0 + timedelta(minutes=minute))


def test_empty_window() -> None:
    w = RollingWindow(900, energy=False)
    assert w.mean() is None and w.end is None and w.span_s() == 0.0 and len(w) == 0


def test_mean_over_the_window_only() -> None:
    w = RollingWindow(600, energy=False)
    for k, v in enumerate([500.0, 100.0, 100.0, 100.0]):
        w.add(s(5 * k, v))  # minutes 0, 5, 10, 15; the window (5, 15] keeps the last two
    assert w.mean() == 100.0
    assert w.span_s() == 300.0 and w.end == T0 + timedelta(minutes=15)


def test_out_of_order_and_repeated_samples() -> None:
    w = RollingWindow(900, energy=False)
    w.add(s(2, 300.0))
    w.add(s(1, 100.0))
    w.add(s(2, 300.0))  # a QoS 1 redelivery
    assert len(w) == 2 and w.mean() == 200.0
    assert [x.value for x in w.samples()] == [100.0, 300.0]


def test_energy_mean_of_decibels() -> None:
    w = RollingWindow(900, energy=True)
    for k, level in enumerate([60.0, 70.0]):
        w.add(SensorSample("s", "n", Quantity.NOISE_LAEQ, level, T0 + timedelta(minutes=k)))
    expected = 10 * math.log10((10**6 + 10**7) / 2)
    assert w.mean() == pytest.approx(expected) and w.mean() == pytest.approx(67.40, abs=0.01)


def test_bad_window() -> None:
    with pytest.raises(ValueError, match="window_s"):
        RollingWindow(0, energy=False)


def test_hub_routes_by_site_and_bounds_inboxes() -> None:
    hub = SensorHub(capacity=3)
    a = hub.register("cam-a", ["site-7"])
    b = hub.register("cam-b", ["site-7", "site-8"])
    assert hub.sites == {"site-7", "site-8"}
    assert hub.publish(s(0, 1.0)) == 2
    assert hub.publish(s(0, 2.0, site="site-8")) == 1
    assert hub.publish(s(0, 3.0, site="site-9")) == 0
    assert [x.value for x in a.drain()] == [1.0]
    assert a.drain() == ()
    for k in range(5):
        hub.publish(s(k, 10.0 + k, site="site-8"))
    assert [x.value for x in b.drain()] == [12.0, 13.0, 14.0]  # the oldest were dropped
    assert b.dropped == 4  # its earlier two and the first two of these
