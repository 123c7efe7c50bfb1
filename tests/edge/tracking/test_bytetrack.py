"""ByteTracker: tentative tracks, two-stage association, Kalman motion, stationary tracks."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from edge.tracking import ByteTracker, ByteTrackSettings
from tests.edge.tracking.helpers import T0, Row
from tests.edge.tracking.helpers import row as _row
from tests.edge.tracking.helpers import scored as _bd


def _brun(
    frames: list[list[Row]], settings: dict[str, object] | None = None, step_s: float = 0.5
) -> list[list[int]]:
    tracker = ByteTracker(ByteTrackSettings.model_validate(settings or {}))
    out: list[list[int]] = []
    for k, rows in enumerate(frames):
        tracked = tracker.update(_bd(*rows), T0 + timedelta(seconds=k * step_s))
        assert len(tracked) == len(rows)
        out.append(tracked.tracker_id.tolist())
    return out


BCASES: list[tuple[str, list[list[Row]], list[list[int]], dict[str, object]]] = [
    ("empty frames", [[], []], [[], []], {}),
    ("tentative, then confirmed", [[_row(100)]] * 3, [[-1], [1], [1]], {}),
    ("a one-frame blip never gets an id", [[_row(100)], [], [_row(100)]], [[-1], [], [-1]], {}),
    (
        "keeps id through misses up to max_missed",
        [[_row(100)], [_row(100)], [], [], [_row(100)]],
        [[-1], [1], [], [], [1]],
        {"max_missed": 2},
    ),
    (
        "dies after max_missed misses",
        [[_row(100)], [_row(100)], [], [], [], [_row(100)], [_row(100)]],
        [[-1], [1], [], [], [], [-1], [2]],
        {"max_missed": 2},
    ),
    (
        "a low score continues a track but starts none",
        [[_row(100)], [_row(100)], [_row(105, score=0.2)], [_row(600, score=0.2)]],
        [[-1], [1], [1], [-1]],
        {},
    ),
    (
        "below low_score is ignored",
        [[_row(100)], [_row(100)], [_row(100, score=0.05)]],
        [[-1], [1], [-1]],
        {},
    ),
    (
        "a new track needs new_track_score",
        [[_row(100, score=0.32)], [_row(100, score=0.32)]],
        [[-1], [-1]],
        {},
    ),
    (
        "fast mover without overlap: centre fallback, then Kalman prediction",
        [[_row(100 + 110 * k)] for k in range(6)],
        [[-1], [1], [1], [1], [1], [1]],
        {},
    ),
    (
        "fast mover without fallback is lost every frame",
        [[_row(100 + 110 * k)] for k in range(3)],
        [[-1], [-1], [-1]],
        {"centroid_max_dist": 0},
    ),
    (
        "Kalman prediction carries a mover through a miss",
        [[_row(100 + 40 * k)] for k in range(4)] + [[]] + [[_row(100 + 40 * 5)]],
        [[-1], [1], [1], [1], [], [1]],
        {"centroid_max_dist": 0},
    ),
    (
        "two objects crossing keep their ids",
        [[_row(100 + 40 * k), _row(700 - 40 * k, y=130)] for k in range(12)],
        [[-1, -1]] + [[1, 2]] * 11,
        {},
    ),
    (
        "input order does not matter",
        [[_row(100), _row(500)], [_row(100), _row(500)], [_row(500), _row(100)]],
        [[-1, -1], [1, 2], [2, 1]],
        {},
    ),
    (
        "class change is another track when class-aware",
        [[_row(100)], [_row(100)], [_row(100, label="person")], [_row(100, label="person")]],
        [[-1], [1], [-1], [2]],
        {},
    ),
    (
        "class change keeps the id when class-agnostic",
        [[_row(100)], [_row(100)], [_row(100, label="person")]],
        [[-1], [1], [1]],
        {"class_aware": False},
    ),
]


@pytest.mark.parametrize(
    ("frames", "expected", "settings"), [c[1:] for c in BCASES], ids=[c[0] for c in BCASES]
)
def test_bytetrack_ids(
    frames: list[list[Row]], expected: list[list[int]], settings: dict[str, object]
) -> None:
    assert _brun(frames, settings) == expected


def _still(after_s: float = 5.0) -> dict[str, object]:
    return {"stationary": {"after_s": after_s, "max_shift": 0.25}, "max_missed": 3}


def test_stationary_track_is_held_and_survives_beyond_max_missed() -> None:
    tracker = ByteTracker(ByteTrackSettings.model_validate({**_still(), "reverify_every": 40}))
    ts = [T0 + timedelta(seconds=0.5 * k) for k in range(200)]
    k = 0
    for _ in range(12):  # 6 s of a parked stall with a little jitter
        out = tracker.update(_bd(_row(100 + (k % 3))), ts[k])
        k += 1
    assert out.tracker_id.tolist() == [1]
    snap = tracker.snapshot()
    assert snap.stationary_ids == {1} and len(snap.held) == 0
    for _ in range(20):  # hidden for 10 s: far beyond max_missed = 3 frames
        assert tracker.update(_bd(), ts[k]).tracker_id.tolist() == []
        k += 1
        snap = tracker.snapshot()
        assert snap.held.tracker_id.tolist() == [1]
        assert snap.held.class_name == ["stall"]
        assert snap.held.xyxy[0, 0] == pytest.approx(101, abs=2)  # no drift while hidden
    assert tracker.update(_bd(_row(101, score=0.2)), ts[k]).tracker_id.tolist() == [1]
    assert len(tracker.snapshot().held) == 0


def test_stationary_track_ends_when_reverification_fails() -> None:
    tracker = ByteTracker(ByteTrackSettings.model_validate({**_still(), "reverify_every": 4}))
    k = 0
    for _ in range(12):
        tracker.update(_bd(_row(100)), T0 + timedelta(seconds=0.5 * k))
        k += 1
    alive = []
    for _ in range(10):
        tracker.update(_bd(), T0 + timedelta(seconds=0.5 * k))
        k += 1
        alive.append(tracker.active_ids == [1])
    # checks every 4 frames: the first check after the detections passes, the next fails
    assert alive[0] and not alive[-1]
    assert 4 <= sum(alive) <= 8
    # a detection now starts a new, tentative track
    assert tracker.update(_bd(_row(100)), T0 + timedelta(seconds=0.5 * k)).tracker_id.tolist() == [
        -1
    ]


def test_a_sighting_between_checks_keeps_a_stationary_track() -> None:
    tracker = ByteTracker(ByteTrackSettings.model_validate({**_still(), "reverify_every": 4}))
    for k in range(60):
        seen = k < 12 or k % 3 == 0  # after settling, seen once every 3 frames
        tracker.update(_bd(_row(100)) if seen else _bd(), T0 + timedelta(seconds=0.5 * k))
        assert tracker.active_ids == [1] or k == 0


def test_moving_track_is_not_stationary() -> None:
    tracker = ByteTracker(ByteTrackSettings.model_validate(_still(after_s=2.0)))
    for k in range(20):
        tracker.update(_bd(_row(100 + 40 * k)), T0 + timedelta(seconds=0.5 * k))
    assert tracker.snapshot().stationary_ids == frozenset()
    assert tracker.active_ids == [1]


def test_unseen_time_does_not_make_a_track_stationary() -> None:
    tracker = ByteTracker(
        ByteTrackSettings.model_validate({**_still(after_s=3.0), "max_missed": 50})
    )
    for k in range(4):  # 1.5 s seen
        tracker.update(_bd(_row(100)), T0 + timedelta(seconds=0.5 * k))
    for k in range(4, 30):  # then 13 s unseen
        tracker.update(_bd(), T0 + timedelta(seconds=0.5 * k))
    assert tracker.snapshot().stationary_ids == frozenset()


def test_bytetrack_deterministic_and_ids_never_reused() -> None:
    rng = np.random.default_rng(11)
    frames: list[list[Row]] = []
    for _ in range(60):
        rows = []
        for _ in range(int(rng.integers(0, 8))):
            x, y = rng.uniform(0, 900, 2)
            rows.append(_row(float(x), float(y), score=float(rng.uniform(0.05, 1.0))))
        frames.append(rows)
    a, b = _brun(frames), _brun(frames)
    assert a == b
    for ids in a:
        real = [i for i in ids if i >= 0]
        assert len(real) == len(set(real))  # one detection per track per frame


def test_bytetrack_output_keeps_everything_but_the_ids() -> None:
    d = _bd(_row(100), _row(500, score=0.15))
    tracked = ByteTracker().update(d, T0)
    assert np.array_equal(tracked.xyxy, d.xyxy)
    assert np.array_equal(tracked.confidence, d.confidence)
    assert np.array_equal(tracked.class_id, d.class_id)


def test_bytetrack_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ByteTracker().update(_bd(_row(100)), datetime(2026, 1, 5, 12, 0))
