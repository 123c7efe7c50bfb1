"""The construction-site rule: bare-soil share from boxes, sensor means, one joined case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from contracts.events import EvidenceKind, ViolationType
from contracts.sensors import Quantity, SensorSeries
from edge.rules import ConstructionSiteRule, JsonAttachment, RuleEvent, RuleFrame
from edge.rules.construction import ZoneRaster
from edge.sensors import SensorSample
from zones.geometry import ZoneGeometry

from .helpers import RES, T0, Obj, detections, settings, zone

# the zone is the lower half of the 1000 x 500 frame: 1000 x 250 px
SOIL_40 = Obj(1, (0.0, 250.0, 400.0, 500.0), "bare_soil", 0.7)  # 40 % of the zone
NET_30 = Obj(2, (0.0, 250.0, 300.0, 500.0), "dust_net", 0.8)  # covers 30 of those 40 %
NET_ALL = Obj(3, (0.0, 240.0, 1000.0, 500.0), "dust_net", 0.8)


def site(**overrides: Any) -> Any:
    data: dict[str, Any] = {
        "id": "site-7",
        "kind": "construction_site",
        "objects": ["bare_soil", "dust_net"],
        "site_id": "site-7",
        "dwell_s": 10,
    }
    data.update(overrides)
    return zone(**data)


def site_rule(z: Any = None, **cfg: Any) -> ConstructionSiteRule:
    z = z if z is not None else site()
    base = settings()
    s = base.model_copy(
        update={
            "construction": base.construction.model_validate(
                {**base.construction.model_dump(), **cfg}
            )
        }
    )
    return ConstructionSiteRule(z, ZoneGeometry(z, RES), "cam1", s)


def pm10(
    value: float, at: datetime, sensor: str = "dust-1", site_id: str = "site-7"
) -> SensorSample:
    return SensorSample(site_id, sensor, Quantity.PM10, value, at)


def feed(
    r: ConstructionSiteRule,
    frames: Frames,
    *,
    start: datetime = T0,
    step_s: float = 1.0,
) -> list[tuple[int, RuleEvent]]:
    out: list[tuple[int, RuleEvent]] = []
    for k, (objs, readings) in enumerate(frames):
        ts = start + timedelta(seconds=k * step_s)
        out.extend(
            (k, e) for e in r.update(RuleFrame(detections(*objs), ts, readings=tuple(readings)))
        )
    return out


Frames = list[tuple[list[Obj], list[SensorSample]]]


def _series(event: RuleEvent, k: int = 0) -> SensorSeries:
    attachment = event.attachments[k]
    assert isinstance(attachment, JsonAttachment)
    assert isinstance(attachment.document, SensorSeries)
    return attachment.document


def phases(events: list[tuple[int, RuleEvent]]) -> list[tuple[int, str, str]]:
    return [(k, e.phase.value, e.label) for k, e in events]


@pytest.mark.parametrize(
    ("objs", "share"),
    [
        ([], 0.0),
        ([SOIL_40], 0.4),
        ([SOIL_40, NET_30], 0.1),
        ([SOIL_40, NET_ALL], 0.0),
        ([Obj(1, (0.0, 0.0, 1000.0, 250.0), "bare_soil")], 0.0),  # above the zone
        ([Obj(1, (0.0, 0.0, 1000.0, 500.0), "bare_soil")], 1.0),
        ([Obj(1, (0.0, 250.0, 400.0, 500.0), "bare_soil", 0.1)], 0.0),  # below min_score
    ],
)
def test_share(objs: list[Obj], share: float) -> None:
    assert site_rule().measure(detections(*objs)).share == pytest.approx(share, abs=0.012)


def test_share_excludes_exclusions() -> None:
    z = site(exclusions=[[(0.0, 0.5), (0.2, 0.5), (0.2, 1.0), (0.0, 1.0)]])  # x < 200 px
    r = site_rule(z=z)
    # 200 px of the 400 px soil are excluded; the zone is 800 px wide
    assert r.measure(detections(SOIL_40)).share == pytest.approx(200 / 800, abs=0.015)


def test_raster_of_a_slanted_zone() -> None:
    z = site(polygon=[(0.0, 0.5), (1.0, 0.5), (1.0, 1.0)])  # a triangle, half the box
    raster = ZoneRaster(ZoneGeometry(z, RES), 96)
    assert raster.area_cells / raster.weight.size == pytest.approx(0.5, abs=1 / 96)


def test_bare_soil_above_the_limit_raises_a_case_with_the_share() -> None:
    r = site_rule(cooldown_s=0)
    bare: Frames = [([SOIL_40], [])] * 20
    netted: Frames = [([SOIL_40, NET_ALL], [])] * 70
    frames = bare + netted
    events = feed(r, frames)
    # the median over 60 s is no longer above 0.2 once half the window is netted (frame 39)
    assert phases(events) == [(10, "start", "bare_soil"), (39, "end", "bare_soil")]
    start = events[0][1]
    assert start.violation_type is ViolationType.CONSTRUCTION and start.rule == "construction_site"
    assert start.tracker_id == -1
    assert start.details["bare_share"] == pytest.approx(0.4, abs=0.012)
    assert start.details["max_bare_share"] == 0.2
    assert start.details["conditions"] == "bare_soil"
    assert start.details["site_id"] == "site-7"
    assert start.first_seen == T0 and start.dwell_s == 10.0
    assert start.xyxy.tolist() == pytest.approx([0, 250, 400, 500], abs=12)
    (attachment,) = start.attachments
    assert isinstance(attachment, JsonAttachment)
    assert attachment.kind is EvidenceKind.SENSOR_SERIES
    series = attachment.document
    assert isinstance(series, SensorSeries) and series.quantity == "bare_soil_share"
    assert len(series.points) == 11 and series.limit == 0.2


@pytest.mark.parametrize(
    "objs", [[SOIL_40, NET_30], [SOIL_40, NET_ALL], []], ids=["mostly netted", "netted", "none"]
)
def test_netted_or_clean_sites_are_lawful(objs: list[Obj]) -> None:
    frames: Frames = [(objs, [])] * 100
    assert feed(site_rule(), frames) == []


def test_missed_detections_do_not_flip_the_share() -> None:
    frames: Frames = [([SOIL_40] if k % 3 else [], []) for k in range(40)]
    events = feed(site_rule(), frames)
    # the median holds above 0.2 from frame 4 on (one miss in three never wins it)
    assert phases(events) == [(14, "start", "bare_soil")]


def test_dust_above_the_limit_raises_a_case_with_the_series() -> None:
    # one reading a minute at 200 ug/m3: the 15-minute mean counts once it spans 675 s
    frames: Frames = [([], [pm10(200.0, T0 + timedelta(minutes=k))]) for k in range(20)]
    events = feed(site_rule(), frames, step_s=60)
    assert phases(events)[0] == (12, "start", "pm10")
    start = events[0][1]
    assert start.details["pm10_mean_ugm3"] == 200.0
    assert start.details["pm10_limit_ugm3"] == 150.0
    assert start.details["conditions"] == "pm10"
    assert start.confidence == 1.0
    assert len(start.attachments) == 1
    series = _series(start)
    assert series.quantity == "pm10" and series.unit == "ug/m3" and series.statistic == "mean"
    assert series.window_s == 900 and series.value == 200.0 and len(series.points) == 13
    assert series.points[0].sensor_id == "dust-1"


def test_dust_under_the_limit_is_lawful() -> None:
    frames: Frames = [([], [pm10(140.0, T0 + timedelta(minutes=k))]) for k in range(60)]
    assert feed(site_rule(), frames, step_s=60) == []


def test_readings_of_other_sites_are_ignored() -> None:
    frames: Frames = [
        ([], [pm10(900.0, T0 + timedelta(minutes=k), site_id="site-8")]) for k in range(30)
    ]
    assert feed(site_rule(), frames, step_s=60) == []


def test_camera_and_sensor_of_one_site_make_one_case() -> None:
    frames: Frames = [
        ([SOIL_40], [pm10(250.0 if k >= 5 else 50.0, T0 + timedelta(minutes=k))]) for k in range(30)
    ]
    events = feed(site_rule(update_interval_s=3600), frames, step_s=60)
    # the soil case starts after 60 s; the 15-minute mean passes 150 at minute 12
    # (coverage reached: 5 readings of 50 and 8 of 250 average 173)
    assert [(k, e.phase.value) for k, e in events] == [(1, "start"), (12, "update")]
    start, joined = events[0][1], events[1][1]
    assert joined.event_id == start.event_id
    assert start.label == "bare_soil" and joined.details["conditions"] == "bare_soil,pm10"
    assert len(joined.attachments) == 1 and _series(joined).quantity == "pm10"
    assert float(joined.details["pm10_mean_ugm3"]) > 150


def test_a_silent_sensor_stops_counting_and_the_case_ends() -> None:
    frames: Frames = [([], [pm10(300.0, T0 + timedelta(minutes=k))]) for k in range(15)]
    frames += [([], [])] * 40
    events = feed(site_rule(cooldown_s=600, update_interval_s=86_400), frames, step_s=60)
    # judged until 15 min after the last reading (minute 14); ends 10 min after that
    assert [(k, e.phase.value) for k, e in events] == [(12, "start"), (39, "end")]


@pytest.mark.parametrize(
    ("hour_utc", "level", "expected"),
    [
        (15, 60.0, 1),  # 23:00 in Shanghai: night limit 55 dB(A)
        (4, 60.0, 0),  # 12:00: day limit 70 dB(A)
        (4, 72.0, 1),
    ],
)
def test_noise_day_and_night_limits(hour_utc: int, level: float, expected: int) -> None:
    start = datetime(2026, 1, 5, hour_utc, 0, tzinfo=UTC)
    frames: Frames = [
        (
            [],
            [
                SensorSample(
                    "site-7", "noise-1", Quantity.NOISE_LAEQ, level, start + timedelta(minutes=k)
                )
            ],
        )
        for k in range(20)
    ]
    events = feed(site_rule(), frames, start=start, step_s=60)
    assert sum(e.phase.value == "start" for _, e in events) == expected
    if expected:
        assert events[0][1].label == "noise_laeq"
        assert "noise_laeq_mean_dba" in events[0][1].details


def test_noise_is_an_energy_mean() -> None:
    # 7 minutes at 70 dB and 6 at 40 dB: arithmetic mean 56, energy mean 67.3
    start = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
    frames: Frames = [
        (
            [],
            [
                SensorSample(
                    "site-7",
                    "n",
                    Quantity.NOISE_LAEQ,
                    40.0 if k % 2 else 70.0,
                    start + timedelta(minutes=k),
                )
            ],
        )
        for k in range(20)
    ]
    events = feed(site_rule(), frames, start=start, step_s=60)
    assert events and events[0][1].details["noise_laeq_mean_dba"] == pytest.approx(67.3, abs=0.05)


def test_a_site_without_soil_objects_uses_sensors_only() -> None:
    z = site(objects=["dust_net"])
    frames: Frames = [([SOIL_40], [pm10(100.0, T0 + timedelta(minutes=k))]) for k in range(30)]
    assert feed(site_rule(z=z), frames, step_s=60) == []


def test_close_and_kind() -> None:
    r = site_rule()
    frames: Frames = [([SOIL_40], [])] * 12
    feed(r, frames)
    (event,) = r.close(T0 + timedelta(seconds=12))
    assert event.phase.value == "end"
    z = zone()
    with pytest.raises(ValueError, match="needs a construction_site zone"):
        ConstructionSiteRule(z, ZoneGeometry(z, RES), "cam1", settings())


def test_share_box_is_empty_without_soil() -> None:
    measure = site_rule().measure(detections())
    assert measure.bare_xyxy is None and measure.share == 0.0
    assert np.isfinite(measure.confidence)
