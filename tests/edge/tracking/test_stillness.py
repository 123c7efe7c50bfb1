"""Stillness: how long a track's centre has stayed within max_shift of its size."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from edge.tracking import Stillness
from tests.edge.tracking.helpers import T0


def _box(x: float, size: float = 100.0) -> np.ndarray:
    return np.array([x, 0.0, x + size, size], dtype=np.float64)


@pytest.mark.parametrize(
    ("shifts", "still_s"),
    [
        ([], 0.0),
        ([0, 0, 0], 3.0),
        ([10, -10, 20], 3.0),  # jitter within 0.25 of the size
        ([0, 30, 30], 1.0),  # moved at 2 s: the clock restarts there
        ([0, 0, 60], 0.0),
    ],
    ids=["just seen", "still", "jitter", "moved then settled", "moved last"],
)
def test_still_for(shifts: list[float], still_s: float) -> None:
    still = Stillness(_box(0.0), T0)
    for k, dx in enumerate(shifts, start=1):
        still.observe(_box(dx), T0 + timedelta(seconds=k), 0.25)
    assert still.still_for_s(T0 + timedelta(seconds=len(shifts))) == still_s


def test_a_grown_box_allows_a_larger_shift() -> None:
    still = Stillness(np.array([0.0, 0.0, 10.0, 10.0]), T0)  # centre (5, 5), size 10
    grown = np.array([-40.0, -40.0, 60.0, 60.0])  # centre (10, 10): 7.1 px, over 0.25 * 10
    still.observe(grown, T0 + timedelta(seconds=1), 0.25)  # but within 0.25 * 100
    assert still.still_for_s(T0 + timedelta(seconds=1)) == 1.0
