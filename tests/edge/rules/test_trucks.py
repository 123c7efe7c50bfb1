"""The muck-truck rule: passes, cover consensus, one case per truck, evidence crops."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from contracts.events import EvidenceKind, ViolationType
from edge.rules import ImageAttachment, MuckTruckRule, RuleEvent, RuleFrame, RuleResources
from edge.rules.trucks import plate_region
from edge.types import FloatArray, ImageArray
from zones.geometry import ZoneGeometry

from .helpers import RES, T0, Obj, detections, settings, zone

OPEN, COVERED, UNSURE = 40, 220, 128  # grey level painted on a truck's box


class BrightnessCover:
    """A test double of the cover classifier: dark loads are uncovered."""

    name = "brightness"

    def __init__(self) -> None:
        self.calls = 0

    def p_uncovered(self, crops: Sequence[ImageArray]) -> FloatArray:
        self.calls += 1
        return np.array([1.0 - float(c.mean()) / 255.0 for c in crops], dtype=np.float32)


def road(**overrides: Any) -> Any:
    data: dict[str, Any] = {"id": "road", "kind": "road", "objects": ["truck"], "inertia": 2}
    data.update(overrides)
    return zone(**data)


def truck_rule(z: Any = None, cover: BrightnessCover | None = None, **cfg: Any) -> MuckTruckRule:
    z = z if z is not None else road()
    s = settings().model_copy(update={"muck_truck": settings().muck_truck.model_copy(update=cfg)})
    return MuckTruckRule(
        z,
        ZoneGeometry(z, RES),
        "cam1",
        s,
        RuleResources(cover_classifier=cover or BrightnessCover()),
    )


def truck_box(x: float, w: float = 200.0) -> tuple[float, float, float, float]:
    return (x, 300.0, x + w, 420.0)


def drive(
    r: MuckTruckRule,
    trucks: list[list[tuple[int, float, int]]],
    *,
    with_image: bool = True,
    step_s: float = 0.5,
) -> list[tuple[int, RuleEvent]]:
    """Frames of ``(track id, x, grey level)`` trucks; returns ``(frame, event)``."""
    out: list[tuple[int, RuleEvent]] = []
    for k, row in enumerate(trucks):
        image = np.full((RES[1], RES[0], 3), 128, dtype=np.uint8)
        objs = []
        for tid, x, level in row:
            x1, y1, x2, y2 = (int(v) for v in truck_box(x))
            image[y1:y2, max(0, x1) : max(0, x2)] = level
            objs.append(Obj(tid, truck_box(x), "truck", 0.8))
        ts = T0 + timedelta(seconds=k * step_s)
        frame = RuleFrame(detections(*objs), ts, image if with_image else None)
        out.extend((k, e) for e in r.update(frame))
    return out


def pass_of(
    tid: int, level: int, start: float = 0.0, speed: float = 40.0, n: int = 20
) -> list[list[tuple[int, float, int]]]:
    return [[(tid, start + speed * k, level)] for k in range(n)]


AFTER: list[list[tuple[int, float, int]]] = [[]] * 30  # 15 s with no truck


def test_an_open_truck_raises_one_case_with_evidence() -> None:
    r = truck_rule()
    events = drive(r, pass_of(1, OPEN) + AFTER)
    assert [(k, e.phase.value) for k, e in events] == [(2, "start"), (39, "end")]
    start = events[0][1]
    assert start.violation_type is ViolationType.MUCK_TRUCK and start.rule == "muck_truck"
    assert start.label == "truck" and start.tracker_id == 1
    assert start.details["cover"] == "uncovered" and start.details["votes"] == "3/3"
    assert start.details["direction"] == "rightward"
    assert start.details["cover_model"] == "brightness"
    kinds = [a.kind for a in start.attachments]
    assert kinds == [EvidenceKind.LOAD, EvidenceKind.PLATE]
    load, plate = start.attachments
    assert isinstance(load, ImageAttachment) and isinstance(plate, ImageAttachment)
    assert load.image.shape[1] > load.image.shape[0]  # the wide top of the box
    assert int(load.image[5:-5, 10:-10].mean()) < 60  # the open load itself
    assert events[1][1].event_id == start.event_id and events[1][1].attachments == ()
    # the end: the truck was last seen at frame 19; cool-down 10 s
    assert events[1][1].last_seen == T0 + timedelta(seconds=9.5)
    assert r.verdicts == {"covered": 0, "uncovered": 1, "undecided": 0}


def test_a_covered_truck_raises_nothing() -> None:
    r = truck_rule()
    assert drive(r, pass_of(1, COVERED) + AFTER) == []
    assert r.verdicts == {"covered": 1, "uncovered": 0, "undecided": 0}


def test_consensus_needs_votes_of_window() -> None:
    # alternate open / covered looks: 3 uncovered of the last 5 come at the 5th frame
    frames = [[(1, 40.0 * k, OPEN if k % 2 == 0 else COVERED)] for k in range(20)]
    events = drive(truck_rule(), frames + AFTER)
    assert next((k, e.phase.value) for k, e in events) == (4, "start")
    assert events[0][1].details["votes"] == "3/5"


def test_unsure_frames_do_not_vote() -> None:
    # grey as the road: p(uncovered) about 0.5, between covered_p and uncovered_p
    r = truck_rule()
    assert drive(r, pass_of(1, UNSURE) + AFTER) == []
    assert r.verdicts == {"covered": 0, "uncovered": 0, "undecided": 1}
    # unsure frames between open ones: the open ones decide, 3 of 3 votes
    frames = [[(1, 40.0 * k, OPEN if k % 2 == 0 else UNSURE)] for k in range(20)]
    events = drive(truck_rule(), frames + AFTER)
    assert next((k, e.phase.value) for k, e in events) == (4, "start")
    assert events[0][1].details["votes"] == "3/3"


def test_a_covered_verdict_gives_way_to_the_open_load() -> None:
    # the cab first (judged covered 5 of 5), then the open bed behind it comes into view
    r = truck_rule()
    frames = pass_of(1, COVERED, n=5) + [[(1, 200.0 + 40 * k, OPEN)] for k in range(15)]
    events = drive(r, frames + AFTER)
    assert [(k, e.phase.value) for k, e in events] == [(7, "start"), (39, "end")]
    assert events[0][1].details["cover"] == "uncovered"
    assert events[0][1].details["votes"] == "3/5"
    load = events[0][1].attachments[0]
    assert isinstance(load, ImageAttachment)
    assert int(load.image[5:-5, 10:-10].mean()) < 60  # the open load, not the cab
    assert r.verdicts == {"covered": 0, "uncovered": 1, "undecided": 0}


def test_an_uncovered_verdict_is_final() -> None:
    r = truck_rule()
    frames = pass_of(1, OPEN, n=5) + [[(1, 200.0 + 40 * k, COVERED)] for k in range(15)]
    events = drive(r, frames + AFTER)
    assert [(k, e.phase.value) for k, e in events] == [(2, "start"), (39, "end")]
    assert r.verdicts == {"covered": 0, "uncovered": 1, "undecided": 0}


def test_close_counts_the_passes_still_open() -> None:
    r = truck_rule()
    drive(r, pass_of(1, COVERED, n=6))
    assert r.verdicts == {"covered": 0, "uncovered": 0, "undecided": 0}
    r.close(T0 + timedelta(seconds=3))
    assert r.verdicts == {"covered": 1, "uncovered": 0, "undecided": 0}


def test_too_small_loads_are_not_judged() -> None:
    r = truck_rule(min_load_px=200)
    assert drive(r, pass_of(1, OPEN) + AFTER) == []
    assert r.verdicts["undecided"] == 1


def test_without_pixels_nothing_is_judged(caplog: pytest.LogCaptureFixture) -> None:
    cover = BrightnessCover()
    r = truck_rule(cover=cover)
    with caplog.at_level(logging.WARNING):
        assert drive(r, pass_of(1, OPEN), with_image=False) == []
    assert cover.calls == 0
    assert "frames come without pixels" in caplog.text


def test_two_trucks_two_passes() -> None:
    frames = [[(1, 40.0 * k, OPEN), (2, 600 - 30.0 * k, COVERED)] for k in range(20)]
    events = drive(truck_rule(), frames + AFTER)
    assert [(e.phase.value, e.tracker_id) for _, e in events] == [("start", 1), ("end", 1)]


def test_a_new_track_near_a_lost_one_is_the_same_pass() -> None:
    # track 1 is lost after 4 frames (before a verdict); track 2 picks up where it was
    frames = pass_of(1, OPEN, n=4) + [[]] * 2 + [[(2, 40.0 * k, OPEN)] for k in range(6, 20)]
    events = drive(truck_rule(), frames + AFTER)
    assert [(k, e.phase.value, e.tracker_id) for k, e in events] == [
        (2, "start", 1),
        (39, "end", 1),
    ]


def test_a_new_truck_far_away_is_a_new_pass() -> None:
    frames = pass_of(1, OPEN, n=4) + [[(2, 800.0 - 20 * k, OPEN)] for k in range(10)]
    events = drive(truck_rule(rejoin_dist=0.5), frames + AFTER)
    assert [e.tracker_id for _, e in events if e.phase.value == "start"] == [1, 2]


@pytest.mark.parametrize(
    ("direction", "speed", "expected"),
    [
        ("rightward", 40.0, ["start", "end"]),
        ("leftward", 40.0, []),  # crossed, but the wrong way
        ("any", -40.0, ["start", "end"]),
    ],
)
def test_crossing_line_direction(direction: str, speed: float, expected: list[str]) -> None:
    z = road(crossing_line={"points": [(0.5, 0.55), (0.5, 0.95)], "direction": direction})
    start = 0.0 if speed > 0 else 900.0
    events = drive(truck_rule(z=z), pass_of(1, OPEN, start=start, speed=speed, n=25) + AFTER)
    assert [e.phase.value for _, e in events] == expected
    if expected:  # counted once the anchor is past x = 500, judged by then
        assert events[0][0] == (11 if speed > 0 else 13)


def test_legal_hours_suppress() -> None:
    z = road(legal_hours=["11:00-13:00"])
    assert drive(truck_rule(z=z), pass_of(1, OPEN) + AFTER) == []


def test_close_ends_an_open_case() -> None:
    r = truck_rule()
    drive(r, pass_of(1, OPEN, n=5))
    (event,) = r.close(T0 + timedelta(seconds=3))
    assert event.phase.value == "end"
    assert r.close(T0 + timedelta(seconds=4)) == []


@pytest.mark.parametrize(
    ("motion", "expected"),
    [
        (50.0, [100.0, 155.0, 180.0, 200.0]),  # moving right: rear on the left
        (-50.0, [220.0, 155.0, 300.0, 200.0]),
        (0.0, [140.0, 155.0, 260.0, 200.0]),  # head-on: the middle
    ],
)
def test_plate_region(motion: float, expected: list[float]) -> None:
    box = np.array([100, 100, 300, 200], dtype=np.float32)
    assert plate_region(box, motion, (1000, 500)).tolist() == pytest.approx(expected)


def test_needs_a_road_with_trucks_and_a_classifier() -> None:
    z = road()
    geometry = ZoneGeometry(z, RES)
    with pytest.raises(ValueError, match="no cover classifier"):
        MuckTruckRule(z, geometry, "cam1", settings(), RuleResources())
    other = road(objects=["stall"])
    with pytest.raises(ValueError, match="'truck' among its objects"):
        MuckTruckRule(
            other,
            ZoneGeometry(other, RES),
            "cam1",
            settings(),
            RuleResources(cover_classifier=BrightnessCover()),
        )


def test_bad_settings() -> None:
    with pytest.raises(ValueError, match=r"votes .* cannot exceed window"):
        settings().muck_truck.model_validate({"window": 3, "votes": 4})
    with pytest.raises(ValueError, match=r"covered_p \(0.6\) must be below uncovered_p"):
        settings().muck_truck.model_validate({"covered_p": 0.6, "uncovered_p": 0.6})


def test_two_boxes_on_one_truck_are_one_pass() -> None:
    # the detector boxes the whole truck and, as another track, its bed
    frames = []
    for k in range(20):
        x = 40.0 * k
        frames.append([(1, x, OPEN), (2, x + 20, OPEN)])
    cover = BrightnessCover()
    r = truck_rule(cover=cover)
    out = []
    for k, row in enumerate(frames):
        image = np.full((RES[1], RES[0], 3), 128, dtype=np.uint8)
        image[300:420, :] = OPEN
        objs = [
            Obj(1, truck_box(row[0][1]), "truck"),
            Obj(2, (row[1][1], 310.0, row[1][1] + 120, 410.0), "truck"),
        ]
        out.extend(r.update(RuleFrame(detections(*objs), T0 + timedelta(seconds=0.5 * k), image)))
    assert [e.phase.value for e in out] == ["start"]
    assert cover.calls == 3  # one crop per frame until the verdict
