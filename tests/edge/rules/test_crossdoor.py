"""The cross-door rule: goods beyond the door line during business hours, one case per shop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contracts.events import ViolationType
from edge.rules import CrossDoorRule, RuleFrame
from zones.geometry import ZoneGeometry

from .helpers import RES, T0, Obj, detections, phases, run, settings, zone

BEYOND = (100.0, 300.0, 200.0, 400.0)  # anchor y = 400 > the door line at 350
BEYOND2 = (500.0, 320.0, 560.0, 420.0)
BEHIND = (100.0, 260.0, 200.0, 330.0)  # anchor y = 330: between the shop and the line


def frontage(**overrides: Any) -> Any:
    data: dict[str, Any] = {
        "id": "shop-12",
        "kind": "shop_frontage",
        "objects": ["goods", "stall"],
        "shop": {"id": "SH-0012", "name": "Li's Fruit"},
        "door_line": {"points": [(0.0, 0.7), (1.0, 0.7)], "street_side": "below"},
        "dwell_s": 10,
    }
    data.update(overrides)
    return zone(**data)


def door_rule(z: Any = None, **cfg: float) -> CrossDoorRule:
    z = z if z is not None else frontage()
    base = settings()
    s = base.model_copy(update={"cross_door": base.cross_door.model_copy(update=cfg)})
    return CrossDoorRule(z, ZoneGeometry(z, RES), "cam1", s)


def goods(tid: int, box: tuple[float, float, float, float] = BEYOND) -> Obj:
    return Obj(tid, box, "goods")


def test_goods_beyond_the_line_raise_one_case_naming_the_shop() -> None:
    events = run(door_rule(cooldown_s=0), [[goods(1)]] * 20 + [[goods(1, BEHIND)]] * 5)
    assert phases(events) == [(10, "start", 1), (22, "end", 1)]
    start = events[0][1]
    assert start.violation_type is ViolationType.CROSS_DOOR and start.rule == "cross_door"
    assert dict(start.details) == {
        "shop_id": "SH-0012",
        "shop_name": "Li's Fruit",
        "objects": 1,
        "labels": "goods:1",
    }
    assert start.first_seen == T0 and start.dwell_s == 10.0
    assert events[1][1].last_seen == T0 + timedelta(seconds=19)


def test_goods_behind_the_line_are_lawful() -> None:
    assert run(door_rule(), [[goods(1, BEHIND), goods(2, (300.0, 250.0, 400.0, 349.0))]] * 60) == []


def test_more_goods_are_the_same_case() -> None:
    frames = [[goods(1)]] * 12 + [
        [goods(1), goods(2, BEYOND2), Obj(3, (700, 300, 760, 380), "stall")]
    ] * 60
    events = run(door_rule(update_interval_s=30), frames)
    assert phases(events) == [(10, "start", 1), (40, "update", 1), (70, "update", 1)]
    assert events[1][1].details["labels"] == "goods:2,stall:1"
    assert len({e.event_id for _, e in events}) == 1


def test_goods_put_out_again_within_the_cooldown_continue_the_case() -> None:
    frames = [[goods(1)]] * 15 + [[goods(1, BEHIND)]] * 20 + [[goods(2)]] * 15
    events = run(door_rule(cooldown_s=60, update_interval_s=1000), frames)
    assert phases(events) == [(10, "start", 1)]
    events = run(door_rule(cooldown_s=5, update_interval_s=1000), frames)
    assert phases(events) == [(10, "start", 1), (19, "end", 1), (45, "start", 2)]


def test_business_hours() -> None:
    # T0 is 12:00 in Shanghai; open 12:00:30 - 12:01:00
    z = frontage(business_hours=["12:01-12:02"])
    start = datetime(2026, 1, 5, 4, 0, 30, tzinfo=UTC)
    events = run(door_rule(z=z, cooldown_s=0), [[goods(1)]] * 120, start=start)
    # closed until 12:01:00 (frame 30); out from then, 10 s dwell; case ends at 12:02:00
    assert phases(events) == [(40, "start", 1), (90, "end", 1)]
    assert events[0][1].first_seen == datetime(2026, 1, 5, 4, 1, tzinfo=UTC)


def test_legal_hours_are_honoured_too() -> None:
    z = frontage(legal_hours=["11:00-13:00"])
    assert run(door_rule(z=z), [[goods(1)]] * 30) == []


def test_untracked_and_unwanted_objects_do_not_count() -> None:
    frames = [[Obj(-1, BEYOND, "goods"), Obj(2, BEYOND2, "person")]] * 30
    assert run(door_rule(), frames) == []


def test_close_ends_an_open_case() -> None:
    r = door_rule()
    run(r, [[goods(1)]] * 12)
    (event,) = r.close(T0 + timedelta(seconds=12))
    assert event.phase.value == "end"
    assert r.close(T0 + timedelta(seconds=13)) == []


def test_time_going_backwards_is_ignored() -> None:
    r = door_rule()
    run(r, [[goods(1)]] * 5)
    assert r.update(RuleFrame(detections(goods(1)), T0)) == []


def test_only_for_shop_frontages() -> None:
    z = zone()
    with pytest.raises(ValueError, match="needs a shop_frontage zone"):
        CrossDoorRule(z, ZoneGeometry(z, RES), "cam1", settings())


@pytest.mark.parametrize(("margin", "counted"), [(0.1, False), (0.0, True)])
def test_a_box_jittering_at_the_line_needs_the_margin(margin: float, counted: bool) -> None:
    at_line = (100.0, 255.0, 200.0, 355.0)  # anchor 5 px past the line, box 100 px high
    events = run(door_rule(line_margin=margin), [[goods(1, at_line)]] * 12)
    assert bool(events) is counted
