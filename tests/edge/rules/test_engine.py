"""RuleEngine: one rule per zone kind, events of all zones, failures isolated."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import numpy as np
import pytest

from edge.rules import (
    DEFAULT_RULES,
    ConstructionSiteRule,
    CrossDoorRule,
    MuckTruckRule,
    RuleEngine,
    RuleEvent,
    RuleFrame,
    RuleResources,
    RulesSettings,
    StallDwellRule,
)
from edge.tracking import TrackSnapshot
from edge.types import Detections
from zones.config import CameraZones, Zone, ZoneKind
from zones.geometry import ZoneGeometry

from .helpers import IN, RES, T0, Obj, detections, settings, zone
from .test_trucks import BrightnessCover

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
    """One frame a second; the tracker calls every object stationary (stalls that stay)."""
    out: list[tuple[int, RuleEvent]] = []
    for k, objs in enumerate(frames):
        tracks = TrackSnapshot(detections(), frozenset(o.tid for o in objs))
        ts = T0 + timedelta(seconds=k)
        out.extend((k, e) for e in engine.update(detections(*objs), ts, tracks=tracks))
    return out


def test_a_rule_per_zone_kind(caplog: pytest.LogCaptureFixture) -> None:
    resources = RuleResources(cover_classifier=BrightnessCover())
    engine = RuleEngine(_camera(), RES, resources=resources)
    assert [(r.name, r.zone_id) for r in engine.rules] == [
        ("stall_dwell", "west"),
        ("stall_dwell", "east"),
        ("muck_truck", "road"),
    ]
    assert set(engine.geometries) == {"west", "east", "road"}
    assert engine.failures == []
    expected: dict[ZoneKind, tuple[object, ...]] = {
        ZoneKind.NO_VENDING: (StallDwellRule,),
        ZoneKind.SHOP_FRONTAGE: (CrossDoorRule,),
        ZoneKind.ROAD: (MuckTruckRule,),
        ZoneKind.CONSTRUCTION_SITE: (ConstructionSiteRule,),
    }
    assert dict(DEFAULT_RULES) == expected


def test_a_rule_that_cannot_start_is_reported_and_the_others_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    s = RulesSettings.model_validate({"muck_truck": {"cover_model": "/nonexistent/cover.onnx"}})
    with caplog.at_level(logging.ERROR, logger="edge.rules.engine"):
        engine = RuleEngine(_camera(), RES, s)
    assert [r.zone_id for r in engine.rules] == ["west", "east"]
    (failure,) = engine.failures
    assert "zone road: MuckTruckRule not started" in failure
    assert "no cover classifier" in failure
    assert "cannot load the cover classifier /nonexistent/cover.onnx" in caplog.text
    events = _feed(engine, [[Obj(1, LEFT)]] * 11)
    assert [(k, e.zone_id) for k, e in events] == [(10, "west")]


def test_sites_of_construction_zones() -> None:
    camera = CameraZones(
        camera_id="cam1",
        zones=[
            zone(id="a", kind="construction_site", objects=["bare_soil"], site_id="site-7"),
            zone(id="b", kind="construction_site", objects=["bare_soil"]),
        ],
    )
    assert RuleEngine(camera, RES).sites == {"site-7"}


def test_image_and_readings_reach_the_rules() -> None:
    seen: list[RuleFrame] = []

    class Spy(_Broken):
        def update(self, frame: RuleFrame) -> list[RuleEvent]:
            seen.append(frame)
            return []

    engine = RuleEngine(_camera(), RES, rules={ZoneKind.NO_VENDING: (Spy,)})
    image = np.zeros((RES[1], RES[0], 3), dtype=np.uint8)
    engine.update(detections(), T0, image=image)
    assert seen[0].image is image and seen[0].readings == () and seen[0].tracks is None
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        engine.update(detections(), T0, image=np.zeros((4, 4), dtype=np.uint8))


def test_events_of_every_zone() -> None:
    engine = RuleEngine(_camera(), RES, settings(), rules={ZoneKind.NO_VENDING: (StallDwellRule,)})
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
        self,
        zone: Zone,
        geometry: ZoneGeometry,
        camera_id: str,
        settings: RulesSettings,
        resources: RuleResources,
    ) -> None:
        self.zone_id = zone.id

    @property
    def name(self) -> str:
        return "broken"

    def update(self, frame: RuleFrame) -> list[RuleEvent]:
        raise RuntimeError("boom")

    def close(self, ts: datetime) -> list[RuleEvent]:
        raise RuntimeError("boom")


def test_a_failing_rule_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    engine = RuleEngine(_camera(), RES, rules={ZoneKind.NO_VENDING: (_Broken, StallDwellRule)})
    assert engine.failures == []  # the road zone has no rule in this mapping
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
    engine = RuleEngine(_camera(), RES, s, rules={ZoneKind.NO_VENDING: (StallDwellRule,)})
    events = _feed(engine, [[Obj(1, LEFT)]] * 21)
    assert [(k, e.phase.value) for k, e in events] == [
        (10, "start"),
        (15, "update"),
        (20, "update"),
    ]
