"""RuleEngine: one rule per supported zone, events of all zones, failures isolated."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest

from edge.rules import DEFAULT_RULES, RuleEngine, RuleEvent, RulesSettings, StallDwellRule
from edge.types import Detections
from zones.config import CameraZones, Zone, ZoneKind
from zones.geometry import ZoneGeometry

from .helpers import IN, RES, T0, Obj, detections, zone

LEFT = (100.0, 300.0, 200.0, 400.0)  # anchor x = 150
RIGHT = (700.0, 300.0, 800.0, 400.0)  # anchor x = 750


def _camera() -> CameraZones:
    return CameraZones(
        camera_id="cam1",
        zones=[
            zone(id="west", polygon=[(0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (0.0, 1.0)]),
            zone(id="east", polygon=[(0.5, 0.5), (1.0, 0.5), (1.0, 1.0), (0.5, 1.0)]),
            zone(id="road", kind="road", objects=["truck"]),
        ],
    )


def _feed(engine: RuleEngine, frames: list[list[Obj]]) -> list[tuple[int, RuleEvent]]:
    out: list[tuple[int, RuleEvent]] = []
    for k, objs in enumerate(frames):
        out.extend((k, e) for e in engine.update(detections(*objs), T0 + timedelta(seconds=k)))
    return out


def test_rules_for_supported_kinds_only(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="edge.rules.engine"):
        engine = RuleEngine(_camera(), RES)
    assert [(r.name, r.zone_id) for r in engine.rules] == [
        ("stall_dwell", "west"),
        ("stall_dwell", "east"),
    ]
    assert set(engine.geometries) == {"west", "east", "road"}
    assert "zone road is a road zone; no rule watches that kind yet" in caplog.text
    assert list(DEFAULT_RULES) == [ZoneKind.NO_VENDING]


def test_events_of_every_zone() -> None:
    engine = RuleEngine(_camera(), RES)
    events = _feed(engine, [[Obj(1, LEFT), Obj(2, RIGHT)]] * 11)
    assert [(k, e.zone_id, e.tracker_id, e.phase.value) for k, e in events] == [
        (10, "west", 1, "start"),
        (10, "east", 2, "start"),
    ]
    closing = engine.close(T0 + timedelta(seconds=11))
    assert [(e.zone_id, e.phase.value) for e in closing] == [("west", "end"), ("east", "end")]


def test_no_zones_no_rules() -> None:
    engine = RuleEngine(CameraZones(camera_id="cam1", zones=[]), RES)
    assert engine.rules == []
    assert engine.update(detections(Obj(1, IN)), T0) == []
    assert engine.update(Detections.empty(("stall",)), T0) == []
    assert engine.close(T0) == []


class _Broken:
    """A rule that always fails, to show the others keep running."""

    def __init__(
        self, zone: Zone, geometry: ZoneGeometry, camera_id: str, settings: RulesSettings
    ) -> None:
        self.zone_id = zone.id

    @property
    def name(self) -> str:
        return "broken"

    def update(self, detections: Detections, ts: datetime) -> list[RuleEvent]:
        raise RuntimeError("boom")

    def close(self, ts: datetime) -> list[RuleEvent]:
        raise RuntimeError("boom")


def test_a_failing_rule_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    engine = RuleEngine(_camera(), RES, rules={ZoneKind.NO_VENDING: (_Broken, StallDwellRule)})
    assert len(engine.rules) == 4
    with caplog.at_level(logging.ERROR, logger="edge.rules.engine"):
        events = _feed(engine, [[Obj(1, LEFT)]] * 11)
        closing = engine.close(T0 + timedelta(seconds=11))
    assert [(k, e.zone_id, e.phase.value) for k, e in events] == [(10, "west", "start")]
    assert [(e.zone_id, e.phase.value) for e in closing] == [("west", "end")]
    assert "rule broken on zone west failed" in caplog.text
    assert "RuntimeError: boom" in caplog.text


def test_settings_reach_the_rules() -> None:
    s = RulesSettings.model_validate({"stall_dwell": {"update_interval_s": 5}})
    engine = RuleEngine(_camera(), RES, s)
    events = _feed(engine, [[Obj(1, LEFT)]] * 21)
    assert [(k, e.phase.value) for k, e in events] == [
        (10, "start"),
        (15, "update"),
        (20, "update"),
    ]
