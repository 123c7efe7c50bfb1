"""KalmanBoxFilter: follows a constant-velocity box, stops when told, keeps the box shape."""

from __future__ import annotations

import numpy as np
import pytest

from edge.tracking import KalmanBoxFilter


def _box(x: float, y: float = 50.0, w: float = 40.0, h: float = 80.0) -> np.ndarray:
    return np.array([x, y, x + w, y + h], dtype=np.float64)


def test_a_new_filter_sits_on_its_box() -> None:
    kf = KalmanBoxFilter(_box(10.0))
    assert kf.box() == pytest.approx(_box(10.0).tolist())
    kf.predict(2.0)  # no velocity yet: stays
    assert kf.box() == pytest.approx(_box(10.0).tolist())


def test_learns_a_constant_velocity_and_predicts_with_it() -> None:
    kf = KalmanBoxFilter(_box(0.0))
    for k in range(1, 30):  # 20 px a second, sampled every 0.5 s
        kf.predict(0.5)
        kf.update(_box(10.0 * k))
    kf.predict(1.0)  # one second unseen
    assert kf.box()[0] == pytest.approx(310.0, abs=3.0)  # last seen at 290
    assert kf.mean[4] == pytest.approx(20.0, abs=1.0)


def test_stop_zeroes_the_velocity() -> None:
    kf = KalmanBoxFilter(_box(0.0))
    for k in range(1, 10):
        kf.predict(0.5)
        kf.update(_box(10.0 * k))
    kf.stop()
    before = kf.box().copy()
    kf.predict(5.0)
    assert kf.box() == pytest.approx(before.tolist())


@pytest.mark.parametrize("dt_s", [0.0, -1.0])
def test_no_time_no_change(dt_s: float) -> None:
    kf = KalmanBoxFilter(_box(0.0))
    cov = kf.cov.copy()
    kf.predict(dt_s)
    assert np.array_equal(kf.cov, cov)


def test_degenerate_box_keeps_a_positive_size() -> None:
    kf = KalmanBoxFilter(np.array([5.0, 5.0, 5.0, 5.0]))
    x1, y1, x2, y2 = kf.box()
    assert x2 > x1 and y2 > y1
