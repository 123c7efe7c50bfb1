"""Trackers: ids through misses and moves, new ids, death, stationary tracks, the factory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from edge.tracking import (
    ByteTracker,
    ByteTrackSettings,
    SimpleTracker,
    SimpleTrackerSettings,
    StationarySettings,
    TrackerSettings,
    box_iou,
    create_tracker,
    linear_assignment,
)
from edge.types import Detections

NAMES = ("person", "stall")
T0 = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)


def _d(*rows: tuple[str, float, float, float, float]) -> Detections:
    if not rows:
        return Detections.empty(NAMES)
    return Detections(
        xyxy=np.array([r[1:] for r in rows], dtype=np.float32),
        confidence=np.full(len(rows), 0.8, dtype=np.float32),
        class_id=np.array([NAMES.index(r[0]) for r in rows], dtype=np.int64),
        names=NAMES,
    )


def _run(
    frames: list[list[tuple[str, float, float, float, float]]], **settings: float
) -> list[list[int]]:
    tracker = SimpleTracker(SimpleTrackerSettings(**settings))
    out = []
    for k, rows in enumerate(frames):
        tracked = tracker.update(_d(*rows), T0 + timedelta(seconds=k))
        assert len(tracked) == len(rows)
        out.append(tracked.tracker_id.tolist())
    return out


STALL = ("stall", 100.0, 100.0, 200.0, 200.0)
OTHER = ("stall", 500.0, 100.0, 600.0, 200.0)


def _moved(
    row: tuple[str, float, float, float, float], dx: float
) -> tuple[str, float, float, float, float]:
    return (row[0], row[1] + dx, row[2], row[3] + dx, row[4])


# (case id, frames, expected ids per frame, settings)
CASES: list[
    tuple[
        str, list[list[tuple[str, float, float, float, float]]], list[list[int]], dict[str, float]
    ]
] = [
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
    frames: list[list[tuple[str, float, float, float, float]]],
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


@pytest.mark.parametrize(
    ("a", "b", "iou"),
    [
        ([0, 0, 10, 10], [0, 0, 10, 10], 1.0),
        ([0, 0, 10, 10], [5, 0, 15, 10], 50 / 150),
        ([0, 0, 10, 10], [20, 20, 30, 30], 0.0),
        ([0, 0, 10, 10], [10, 0, 20, 10], 0.0),
        ([0, 0, 0, 0], [0, 0, 0, 0], 0.0),
    ],
)
def test_box_iou(a: list[float], b: list[float], iou: float) -> None:
    got = box_iou(np.array([a], dtype=np.float32), np.array([b], dtype=np.float32))
    assert got.shape == (1, 1)
    assert got[0, 0] == pytest.approx(iou)


def test_box_iou_empty() -> None:
    assert box_iou(np.empty((0, 4), np.float32), np.zeros((3, 4), np.float32)).shape == (0, 3)


@pytest.mark.parametrize(
    "settings", [{"iou_threshold": 0}, {"max_missed": -1}, {"centroid_max_dist": -1}, {"typo": 1}]
)
def test_bad_settings(settings: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        SimpleTrackerSettings(**settings)


# ---------------------------------------------------------------------------------------------
# ByteTracker

Row = tuple[str, float, float, float, float, float]  # label, x1, y1, x2, y2, score


def _bd(*rows: Row) -> Detections:
    if not rows:
        return Detections.empty(NAMES)
    return Detections(
        xyxy=np.array([r[1:5] for r in rows], dtype=np.float32),
        confidence=np.array([r[5] for r in rows], dtype=np.float32),
        class_id=np.array([NAMES.index(r[0]) for r in rows], dtype=np.int64),
        names=NAMES,
    )


def _row(
    x: float,
    y: float = 100.0,
    *,
    w: float = 100.0,
    h: float = 100.0,
    label: str = "stall",
    score: float = 0.9,
) -> Row:
    return (label, x, y, x + w, y + h, score)


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


def test_simple_tracker_reports_stationary_tracks() -> None:
    tracker = SimpleTracker(SimpleTrackerSettings(stationary=StationarySettings(after_s=2.0)))
    for k in range(6):
        tracker.update(_d(STALL, _moved(OTHER, 60 * k)), T0 + timedelta(seconds=k))
    snap = tracker.snapshot()
    assert snap.stationary_ids == {1}
    assert len(snap.held) == 0


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


@pytest.mark.parametrize(
    "settings",
    [
        {"low_score": 0.6, "high_score": 0.5},
        {"new_track_score": 0.25},
        {"match_iou": 0},
        {"reverify_every": 0},
        {"max_missed": -1},
        {"stationary": {"after_s": -1}},
        {"stationary": {"max_shift": 0}},
        {"typo": 1},
    ],
)
def test_bad_bytetrack_settings(settings: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ByteTrackSettings.model_validate(settings)


@pytest.mark.parametrize(
    ("data", "kind"),
    [({}, ByteTracker), ({"type": "bytetrack"}, ByteTracker), ({"type": "simple"}, SimpleTracker)],
)
def test_create_tracker_by_type(data: dict[str, str], kind: type) -> None:
    from pydantic import TypeAdapter

    settings = TypeAdapter(TrackerSettings).validate_python(data or {"type": "bytetrack"})
    assert isinstance(create_tracker(settings), kind)


def test_unknown_tracker_type_is_refused() -> None:
    from pydantic import TypeAdapter, ValidationError

    with pytest.raises(ValidationError, match="bytetrack"):
        TypeAdapter(TrackerSettings).validate_python({"type": "sort"})


def test_linear_assignment_is_optimal_and_respects_the_limit() -> None:
    cost = np.array([[0.1, 0.2], [0.15, 0.9]])
    # greedy would take (0, 0) then (1, 1) = 1.0; the optimum is (0, 1) + (1, 0) = 0.35
    assert linear_assignment(cost, 1.0) == [(0, 1), (1, 0)]
    assert linear_assignment(cost, 0.5) == [(0, 1), (1, 0)]
    assert linear_assignment(np.array([[0.8, np.inf]]), 0.5) == []
    assert linear_assignment(np.zeros((0, 3)), 0.5) == []
