"""The street-stall dwell rule: time passed in, no sleeping."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from contracts.events import EventPhase, ViolationType
from edge.rules import RuleEvent, RuleFrame, StallDwellRule
from zones.geometry import ZoneGeometry

from .helpers import IN, IN2, OUT, T0, Obj, detections, frame, phases, rule, settings, zone
from .helpers import run as run_tracked

STAY = [Obj(1)]


def run(
    r: StallDwellRule,
    frames: list[list[Obj]],
    *,
    stationary: frozenset[int] = frozenset(),
    moving: frozenset[int] = frozenset(),
    **timing: Any,
) -> list[tuple[int, RuleEvent]]:
    """``helpers.run`` where the tracker calls every vending object stationary (a stall that
    stays), persons only when in ``stationary``, and nothing in ``moving``."""
    still = {o.tid for objs in frames for o in objs if o.label != "person"} | stationary
    return run_tracked(r, frames, stationary=frozenset(still - moving), **timing)


def test_no_event_before_dwell() -> None:
    assert run(rule(), [STAY] * 10) == []  # frames at 0..9 s, dwell 10 s


def test_start_exactly_once_at_dwell() -> None:
    events = run(rule(), [STAY] * 30)
    assert phases(events) == [(10, "start", 1)]
    event = events[0][1]
    assert re.fullmatch(r"[0-9a-f]{32}", event.event_id)
    assert event.camera_id == "cam1" and event.zone_id == "pavement"
    assert event.rule == "stall_dwell"
    assert event.violation_type is ViolationType.STREET_STALL
    assert event.label == "stall"
    assert event.first_seen == T0  # entered as of the first of the inertia frames
    assert event.last_seen == T0 + timedelta(seconds=10)
    assert event.dwell_s == 10.0


def test_updates_are_throttled() -> None:
    events = run(rule(s=settings(update_interval_s=30)), [STAY] * 75)
    assert phases(events) == [(10, "start", 1), (40, "update", 1), (70, "update", 1)]
    assert len({e.event_id for _, e in events}) == 1
    assert [e.dwell_s for _, e in events] == [10.0, 40.0, 70.0]


def test_end_after_leaving_the_zone() -> None:
    frames = [STAY] * 20 + [[Obj(1, OUT)]] * 3
    events = run(rule(), frames)
    assert phases(events) == [(10, "start", 1), (22, "end", 1)]  # out for inertia=3 frames
    start, end = events[0][1], events[1][1]
    assert end.event_id == start.event_id
    assert end.last_seen == T0 + timedelta(seconds=19)  # last frame in the zone
    assert end.dwell_s == 19.0


def test_end_after_the_track_is_lost() -> None:
    frames = [STAY] * 20 + [[]] * 15
    events = run(rule(s=settings(lost_grace_s=10)), frames)
    # last seen at 19 s; gone once unseen for more than 10 s, i.e. at 30 s
    assert phases(events) == [(10, "start", 1), (30, "end", 1)]
    assert events[1][1].last_seen == T0 + timedelta(seconds=19)


def test_short_absence_does_not_end() -> None:
    frames = [STAY] * 15 + [[]] * 5 + [STAY] * 5
    assert phases(run(rule(), frames)) == [(10, "start", 1)]


def test_inertia_suppresses_one_frame_flickers_in() -> None:
    # in, in, out, in, in, out ...: never three frames in a row, so never entered.
    frames = [[Obj(1, IN)], [Obj(1, IN)], [Obj(1, OUT)]] * 20
    assert run(rule(), frames) == []


def test_inertia_suppresses_one_frame_flickers_out() -> None:
    frames = [STAY] * 15 + [[Obj(1, OUT)]] * 2 + [STAY] * 5 + [[Obj(1, OUT)]] + [STAY] * 5
    events = run(rule(), frames)
    assert phases(events) == [(10, "start", 1)]


def test_missed_detections_neither_count_nor_reset_entry() -> None:
    # in, (missed), in, in -> entered on the 3rd sighting, as of the first one
    frames = [STAY, [], STAY, STAY] + [STAY] * 10
    events = run(rule(z=zone(dwell_s=0)), frames)
    assert phases(events) == [(3, "start", 1)]
    assert events[0][1].first_seen == T0


def test_seen_outside_before_entry_resets() -> None:
    frames = [STAY, STAY, [Obj(1, OUT)], STAY, STAY, STAY]
    events = run(rule(z=zone(dwell_s=0)), frames)
    assert phases(events) == [(5, "start", 1)]
    assert events[0][1].first_seen == T0 + timedelta(seconds=3)


def test_legal_hours_suppress() -> None:
    z = zone(legal_hours=["11:00-13:00"])  # T0 is 12:00 in Shanghai
    assert run(rule(z=z), [STAY] * 120) == []


def test_legal_hours_read_in_the_configured_timezone() -> None:
    z = zone(legal_hours=["11:00-13:00"])
    s = settings().model_copy(update={"timezone": "UTC"})  # T0 is 04:00 UTC
    assert phases(run(rule(z=z, s=s), [STAY] * 12)) == [(10, "start", 1)]


def test_legal_hours_beginning_end_the_event_and_their_end_starts_anew() -> None:
    z = zone(legal_hours=["12:00-13:00"])
    start = datetime(2026, 1, 5, 3, 58, tzinfo=UTC)  # 11:58 local
    frames = [STAY] * 192  # one every 20 s, until 13:01:40 local
    events = run(rule(z=z), frames, start=start, step_s=20)
    assert phases(events) == [
        (2, "start", 1),  # 11:58:40, entered as of 11:58:00
        (4, "update", 1),  # 11:59:20, 40 s later
        (6, "end", 1),  # 12:00:00: legal hours begin
        (187, "start", 1),  # 13:00:20: 20 s of illegal dwell since 13:00:00
        (189, "update", 1),
        (191, "update", 1),
    ]
    first, end, second = events[0][1], events[2][1], events[3][1]
    assert end.event_id == first.event_id
    assert second.event_id != first.event_id
    assert first.first_seen == start
    assert end.last_seen == start + timedelta(minutes=2)
    assert end.dwell_s == 120.0
    assert second.first_seen == datetime(2026, 1, 5, 5, 0, tzinfo=UTC)  # 13:00 local
    assert second.dwell_s == 20.0


def test_two_objects_two_events() -> None:
    frames = [[Obj(1, IN), Obj(2, IN2)]] * 12 + [[Obj(2, IN2)]] * 12
    events = run(rule(), frames)
    assert phases(events) == [(10, "start", 1), (10, "start", 2), (22, "end", 1)]
    assert events[0][1].event_id != events[1][1].event_id


def test_objects_arriving_later_start_later() -> None:
    frames = [[Obj(1)]] * 5 + [[Obj(1), Obj(2, IN2)]] * 20
    assert phases(run(rule(), frames)) == [(10, "start", 1), (15, "start", 2)]


@pytest.mark.parametrize(
    "frames",
    [
        [],
        [[]] * 30,
        [[Obj(1, OUT)]] * 30,
        [[Obj(1, label="person")]] * 30,
        [[Obj(-1)]] * 30,
    ],
    ids=["no frames", "empty frames", "outside the zone", "class not wanted", "untracked"],
)
def test_nothing_to_report(frames: list[list[Obj]]) -> None:
    assert run(rule(), frames) == []


def test_empty_frames_then_an_object() -> None:
    assert phases(run(rule(), [[]] * 5 + [STAY] * 11)) == [(15, "start", 1)]


def test_event_carries_latest_box_and_best_confidence() -> None:
    moved = (110.0, 300.0, 210.0, 400.0)
    frames = [[Obj(1, conf=0.5)]] * 4 + [[Obj(1, conf=0.9)]] + [[Obj(1, moved, conf=0.6)]] * 6
    ((k, event),) = run(rule(), frames)
    assert k == 10
    assert event.confidence == pytest.approx(0.9)
    assert event.xyxy.tolist() == list(moved)
    assert event.xyxy.dtype == np.float32
    with pytest.raises(ValueError):
        event.xyxy[0] = 0.0  # read-only


def test_dwell_zero_starts_on_entry() -> None:
    assert phases(run(rule(z=zone(dwell_s=0)), [STAY] * 3)) == [(2, "start", 1)]


def test_inertia_one() -> None:
    frames = [STAY] * 11 + [[Obj(1, OUT)]]
    assert phases(run(rule(z=zone(inertia=1)), frames)) == [(10, "start", 1), (11, "end", 1)]


def test_close_ends_open_events_only() -> None:
    r = rule()
    run(r, [[Obj(1, IN), Obj(2, IN2)]] * 11 + [[Obj(1, IN), Obj(2, IN2), Obj(3, IN)]])
    events = r.close(T0 + timedelta(seconds=12))
    assert [(e.phase, e.tracker_id) for e in events] == [(EventPhase.END, 1), (EventPhase.END, 2)]
    assert r.close(T0 + timedelta(seconds=13)) == []


def test_time_going_backwards_is_ignored() -> None:
    r = rule()
    run(r, [STAY] * 5)
    assert r.update(RuleFrame(detections(Obj(1, OUT)), T0)) == []
    later = run(r, [STAY] * 6, start=T0 + timedelta(seconds=5))
    assert phases(later) == [(5, "start", 1)]


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        rule().update(RuleFrame(detections(), datetime(2026, 1, 5, 12, 0)))


def test_only_for_no_vending_zones_and_matching_geometry() -> None:
    road = zone(kind="road", objects=["truck"])
    with pytest.raises(ValueError, match="needs a no_vending zone"):
        StallDwellRule(road, ZoneGeometry(road, (100, 100)), "cam1", settings())
    z = zone()
    with pytest.raises(ValueError, match="geometry is of zone"):
        StallDwellRule(z, ZoneGeometry(zone(id="other"), (100, 100)), "cam1", settings())


# ---------------------------------------------------------------------------------------------
# Groups: nearby objects are one stall; vendors; ids that change; cool-down; held tracks

NEXT_TO = (210.0, 320.0, 260.0, 400.0)  # 10 px right of IN
BETWEEN = (250.0, 300.0, 390.0, 400.0)  # bridges IN and IN2 (gaps of 50 and 10 px)
FAR = (700.0, 300.0, 800.0, 400.0)


def test_nearby_objects_are_one_stall() -> None:
    frames = [[Obj(1), Obj(2, NEXT_TO, "goods"), Obj(3, FAR, "goods")]] * 12
    events = run(rule(), frames)
    assert phases(events) == [(10, "start", 1), (10, "start", 3)]
    stall = events[0][1]
    assert stall.label == "stall"
    assert stall.xyxy.tolist() == [100.0, 300.0, 260.0, 400.0]  # around both
    assert dict(stall.details) == {"objects": 2, "labels": "goods:1,stall:1"}
    assert events[1][1].label == "goods"


@pytest.mark.parametrize(
    ("stationary", "expected"),
    [
        (frozenset({9}), "goods:1,person:1,stall:1"),  # a vendor who stays with the cart
        (frozenset(), "goods:1,stall:1"),  # a passer-by does not count
    ],
)
def test_a_person_counts_only_stationary_beside_a_stall(
    stationary: frozenset[int], expected: str
) -> None:
    z = zone(objects=["stall", "goods", "person"])
    person = Obj(9, (265.0, 280.0, 300.0, 400.0), "person")
    frames = [[Obj(1), Obj(2, NEXT_TO, "goods"), person]] * 12
    ((k, event),) = run(rule(z=z), frames, stationary=stationary)
    assert k == 10 and event.details["labels"] == expected
    assert event.tracker_id == 1  # the stall object, never the person


def test_a_person_alone_is_no_stall() -> None:
    z = zone(objects=["stall", "goods", "person"])
    frames = [[Obj(9, IN, "person")]] * 30
    assert run(rule(z=z), frames, stationary=frozenset({9})) == []


def test_a_vendor_joins_and_the_case_goes_on() -> None:
    z = zone(objects=["stall", "person"])
    person = Obj(9, (205.0, 280.0, 240.0, 400.0), "person")
    frames = [[Obj(1)]] * 12 + [[Obj(1), person]] * 40
    events = run(rule(z=z, s=settings(update_interval_s=30)), frames, stationary=frozenset({9}))
    assert phases(events) == [(10, "start", 1), (40, "update", 1)]
    assert events[1][1].details["labels"] == "person:1,stall:1"


def test_a_new_track_id_at_the_same_place_continues_the_case() -> None:
    # the tracker loses track 1 and starts track 2 on the same stall
    frames = [[Obj(1)]] * 15 + [[Obj(2, (102.0, 300.0, 202.0, 400.0))]] * 30
    events = run(rule(), frames)
    assert phases(events) == [(10, "start", 1), (40, "update", 2)]
    assert len({e.event_id for _, e in events}) == 1


def test_cooldown_continues_a_case_when_the_stall_comes_back() -> None:
    # gone for 30 s (lost after 10 s of grace), back at the same place under a new id
    frames = [[Obj(1)]] * 20 + [[]] * 30 + [[Obj(5)]] * 20
    events = run(rule(s=settings(cooldown_s=60, update_interval_s=1000)), frames)
    assert phases(events) == [(10, "start", 1)]
    # without the cool-down: an end, then a new case
    events = run(rule(s=settings(cooldown_s=0)), frames)
    assert phases(events) == [(10, "start", 1), (30, "end", 1), (60, "start", 5)]


def test_cooldown_ends_the_case_when_it_runs_out() -> None:
    frames = [[Obj(1)]] * 20 + [[]] * 80
    events = run(rule(s=settings(cooldown_s=60)), frames)
    # lost at 30 s (unseen for more than 10 s since 19 s); ends 60 s after last seen (19 s)
    assert phases(events) == [(10, "start", 1), (79, "end", 1)]
    assert events[1][1].last_seen == T0 + timedelta(seconds=19)


def test_merging_stalls_keep_the_older_case() -> None:
    frames = [[Obj(1), Obj(2, IN2)]] * 12 + [[Obj(1), Obj(2, IN2), Obj(3, BETWEEN, "goods")]] * 6
    events = run(rule(), frames)
    # two stalls, then goods between them make them one: the younger case (track 2) ends
    assert phases(events) == [(10, "start", 1), (10, "start", 2), (14, "end", 2)]


def test_held_tracks_keep_a_stall_alive() -> None:
    r = rule(s=settings(lost_grace_s=5))
    events: list[tuple[int, RuleEvent]] = []
    for k in range(60):
        ts = T0 + timedelta(seconds=k)
        if k < 20:
            f = frame([Obj(1)], ts, stationary=frozenset({1}))
        else:  # hidden behind a bus for 40 s, but the tracker holds it
            f = frame([], ts, stationary=frozenset({1}), held=[Obj(1)])
        events.extend((k, e) for e in r.update(f))
    assert phases(events) == [(10, "start", 1), (40, "update", 1)]


def test_held_tracks_outside_the_zone_do_not_count() -> None:
    r = rule(s=settings(lost_grace_s=5))
    events: list[tuple[int, RuleEvent]] = []
    for k in range(40):
        ts = T0 + timedelta(seconds=k)
        f = (
            frame([Obj(1)], ts, stationary=frozenset({1}))
            if k < 20
            else frame([], ts, stationary=frozenset({1}), held=[Obj(1, OUT)])
        )
        events.extend((k, e) for e in r.update(f))
    assert phases(events) == [(10, "start", 1), (25, "end", 1)]


def test_group_gap_zero_keeps_touching_objects_together_only() -> None:
    frames = [[Obj(1), Obj(2, NEXT_TO, "goods")]] * 12
    assert len(run(rule(s=settings(group_gap=0.0)), frames)) == 2
    touching = (200.0, 320.0, 260.0, 400.0)
    assert (
        len(run(rule(s=settings(group_gap=0.0)), [[Obj(1), Obj(2, touching, "goods")]] * 12)) == 1
    )


# ---------------------------------------------------------------------------------------------
# Only what stays: a vending object counts once the tracker calls it stationary


@pytest.mark.parametrize("label", ["stall", "goods"])
def test_a_moving_vending_object_is_no_stall(label: str) -> None:
    # a cart pushed along, or "goods" the detector sees on a group of passers-by
    frames = [[Obj(2, IN, label)]] * 60
    assert run(rule(), frames, moving=frozenset({2})) == []


def test_dwell_counts_from_entry_once_the_object_stays() -> None:
    # in the zone from 0 s; the tracker calls it stationary from 15 s (it was being set up)
    r = rule()
    events: list[tuple[int, RuleEvent]] = []
    for k in range(30):
        ts = T0 + timedelta(seconds=k)
        still = frozenset({1}) if k >= 15 else frozenset()
        events.extend((k, e) for e in r.update(frame([Obj(1)], ts, stationary=still)))
    assert phases(events) == [(15, "start", 1)]
    assert events[0][1].first_seen == T0
    assert events[0][1].dwell_s == 15.0


def test_without_a_tracker_snapshot_nothing_is_stationary(
    caplog: pytest.LogCaptureFixture,
) -> None:
    r = rule()
    with caplog.at_level(logging.WARNING, logger="edge.rules.stall"):
        for k in range(30):
            assert r.update(RuleFrame(detections(Obj(1)), T0 + timedelta(seconds=k))) == []
    assert caplog.text.count("without the tracker's snapshot") == 1
