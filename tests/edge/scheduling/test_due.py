"""Phased due times: each camera looks on its own grid, and the grids are spread."""

from __future__ import annotations

import numpy as np
import pytest

from edge.scheduling.due import PhasedLimiter, camera_phase


def test_looks_land_on_the_phase_grid() -> None:
    limiter = PhasedLimiter(fps=0.25, phase_s=1.0)
    frames = np.arange(0.0, 20.0, 0.04)  # a 25 fps stream
    admitted = [round(t, 2) for t in frames if limiter.admit(float(t))]
    assert admitted == [1.0, 5.0, 9.0, 13.0, 17.0]


def test_keyframes_are_taken_early_by_up_to_early_s() -> None:
    """Keyframe-only decoding: keyframes every 2 s at x.5 s; the grid is at 0, 4, 8..."""
    limiter = PhasedLimiter(fps=0.25, phase_s=0.0)
    keyframes = [1.5 + 2 * k for k in range(10)]
    taken = [t for t in keyframes if limiter.due(t, 1.0) and limiter.admit(t, 1.0)]
    assert taken == [3.5, 7.5, 11.5, 15.5, 19.5]  # the keyframe nearest each look


def test_after_a_gap_the_grid_keeps_its_phase() -> None:
    limiter = PhasedLimiter(fps=1.0, phase_s=0.5)
    assert limiter.admit(0.5) and limiter.admit(1.5)
    assert limiter.admit(10.7)  # the stream was away
    assert not limiter.admit(11.2)
    assert limiter.admit(11.5)  # back on .5


def test_phases_of_many_cameras_are_spread_over_the_period() -> None:
    period = 4.0
    phases = np.array([camera_phase(f"cam-{i:03d}", period) for i in range(200)])
    assert phases.min() >= 0 and phases.max() < period
    counts, _ = np.histogram(phases, bins=8, range=(0, period))
    assert counts.min() >= 10, counts  # no half-second of the period is empty or crowded
    assert counts.max() <= 45, counts
    assert camera_phase("cam-001", period) == camera_phase("cam-001", period)


@pytest.mark.parametrize("fps", [0.1, 0.25, 2.0, 5.0])
def test_the_rate_holds(fps: float) -> None:
    limiter = PhasedLimiter(fps=fps, phase_s=camera_phase("road-1", 1 / fps))
    frames = np.arange(0.0, 200.0, 0.04)
    admitted = sum(limiter.admit(float(t)) for t in frames)
    assert abs(admitted - 200 * fps) <= 1
