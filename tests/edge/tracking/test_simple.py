"""SimpleTracker: ids through misses and moves, new ids, death, stationary tracks."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from edge.tracking import SimpleTracker, SimpleTrackerSettings, StationarySettings
from tests.edge.tracking.helpers import NAMES, T0, Box
from tests.edge.tracking.helpers import boxes as _d


def _run(frames: list[list[Box]], **settings: float) -> list[list[int]]:
    tracker = SimpleTracker(SimpleTrackerSettings(**settings))
    out = []
    for k, rows in enumerate(frames):
        tracked = tracker.update(_d(*rows), T0 + timedelta(seconds=k))
        assert len(tracked) == len(rows)
        out.append(tracked.tracker_id.tolist())
    return out


STALL = ("stall", 100.0, 100.0, 200.0, 200.0)
OTHER = ("stall", 500.0, 100.0, 600.0, 200.0)


def _moved(row: Box, dx: float) -> Box:
    return (row[0], row[1] + dx, row[2], row[3] + dx, row[4])


# (case id, frames, expected ids per frame, settings)
CASES: list[tuple[str, list[list[Box]], list[list[int]], dict[str, float]]] = [
    ("empty frames", [[], []], [[], []], {}),
    ("one object stays", [[STALL], [STALL], [STALL]], [[1], [1], [1]], {}),
    ("keeps id through a missed frame", [[STALL], [], [STALL]], [[1], [], [1]], {}),
    (
        "keeps id while moving with overlap",
        [[STALL], [_moved(STALL, 30)], [_moved(STALL, 60)]],
        [[1], [1], [1]],
        {},
    ),
    (
        "centroid fallback keeps id across a jump without overlap",
        [[STALL], [_moved(STALL, 120)]],
        [[1], [1]],
        {"centroid_max_dist": 1.0},
    ),
    (
        "no fallback: a jump is a new object",
        [[STALL], [_moved(STALL, 120)]],
        [[1], [2]],
        {"centroid_max_dist": 0},
    ),
    (
        "too far for the fallback",
        [[STALL], [_moved(STALL, 300)]],
        [[1], [2]],
        {"centroid_max_dist": 1.0},
    ),
    ("new object gets a new id", [[STALL], [STALL, OTHER]], [[1], [1, 2]], {}),
    ("input order does not matter", [[STALL, OTHER], [OTHER, STALL]], [[1, 2], [2, 1]], {}),
    (
        "same box, other class, other track",
        [[STALL], [STALL, ("person", 100, 100, 200, 200)]],
        [[1], [1, 2]],
        {},
    ),
    ("class change is a new track", [[STALL], [("person", 100, 100, 200, 200)]], [[1], [2]], {}),
    (
        "survives max_missed misses",
        [[STALL], [], [], [STALL]],
        [[1], [], [], [1]],
        {"max_missed": 2},
    ),
    (
        "dies after max_missed misses",
        [[STALL], [], [], [], [STALL]],
        [[1], [], [], [], [2]],
        {"max_missed": 2},
    ),
    ("max_missed 0: one miss kills", [[STALL], [], [STALL]], [[1], [], [2]], {"max_missed": 0}),
    (
        "best overlap wins between two candidates",
        [[STALL], [_moved(STALL, 50), _moved(STALL, 10)]],
        [[1], [2, 1]],
        {},
    ),
    (
        "two objects crossing keep their ids",
        [
            [STALL, OTHER],
            [_moved(STALL, 40), _moved(OTHER, -40)],
            [_moved(STALL, 80), _moved(OTHER, -80)],
        ],
        [[1, 2], [1, 2], [1, 2]],
        {},
    ),
]


@pytest.mark.parametrize(
    ("frames", "expected", "settings"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_ids(
    frames: list[list[Box]],
    expected: list[list[int]],
    settings: dict[str, float],
) -> None:
    assert _run(frames, **settings) == expected


def test_deterministic() -> None:
    rng = np.random.default_rng(7)
    frames = []
    for _ in range(30):
        n = int(rng.integers(0, 6))
        rows = []
        for _ in range(n):
            x, y = rng.uniform(0, 900, 2)
            rows.append((NAMES[int(rng.integers(0, 2))], x, y, x + 80, y + 80))
        frames.append(rows)
    assert _run(frames) == _run(frames)


def test_ids_are_never_reused_and_active_ids() -> None:
    tracker = SimpleTracker(SimpleTrackerSettings(max_missed=0))
    assert tracker.update(_d(STALL), T0).tracker_id.tolist() == [1]
    assert tracker.active_ids == [1]
    assert tracker.update(_d(), T0 + timedelta(seconds=1)).tracker_id.tolist() == []
    assert tracker.active_ids == []
    assert tracker.update(_d(STALL), T0 + timedelta(seconds=2)).tracker_id.tolist() == [2]


def test_output_keeps_everything_but_the_ids() -> None:
    d = _d(STALL, OTHER)
    tracked = SimpleTracker().update(d, T0)
    assert np.array_equal(tracked.xyxy, d.xyxy)
    assert np.array_equal(tracked.class_id, d.class_id)
    assert tracked.names == d.names


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SimpleTracker().update(_d(STALL), datetime(2026, 1, 5, 12, 0))


def test_simple_tracker_reports_stationary_tracks() -> None:
    tracker = SimpleTracker(SimpleTrackerSettings(stationary=StationarySettings(after_s=2.0)))
    for k in range(6):
        tracker.update(_d(STALL, _moved(OTHER, 60 * k)), T0 + timedelta(seconds=k))
    snap = tracker.snapshot()
    assert snap.stationary_ids == {1}
    assert len(snap.held) == 0
