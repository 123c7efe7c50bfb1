"""Building blocks for rule tests: a zone, tracked detections and a frame-by-frame runner."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from edge.rules import Rule, RuleEvent, RuleFrame, RulesSettings, StallDwellRule
from edge.tracking import TrackSnapshot
from edge.types import Detections
from zones.config import Zone
from zones.geometry import ZoneGeometry

NAMES = ("person", "stall", "goods", "truck", "bare_soil", "dust_net")
RES = (1000, 500)
T0 = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai

IN = (100.0, 300.0, 200.0, 400.0)  # anchor (150, 400): in the lower-half zone
IN2 = (400.0, 300.0, 500.0, 400.0)
OUT = (100.0, 50.0, 200.0, 150.0)  # anchor (150, 150): above the zone


@dataclass(frozen=True)
class Obj:
    """One tracked detection in a scripted frame."""

    tid: int
    box: tuple[float, float, float, float] = IN
    label: str = "stall"
    conf: float = 0.8


def zone(**overrides: Any) -> Zone:
    data: dict[str, Any] = {
        "id": "pavement",
        "name": "Pavement",
        "kind": "no_vending",
        "polygon": [(0.0, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0)],
        "objects": ["stall", "goods"],
        "dwell_s": 10,
        "inertia": 3,
    }
    data.update(overrides)
    return Zone(**data)


def settings(
    update_interval_s: float = 30.0,
    lost_grace_s: float = 10.0,
    cooldown_s: float = 0.0,
    group_gap: float = 0.5,
) -> RulesSettings:
    """Stall settings; the cool-down is off unless a test is about it."""
    return RulesSettings.model_validate(
        {
            "stall_dwell": {
                "update_interval_s": update_interval_s,
                "lost_grace_s": lost_grace_s,
                "cooldown_s": cooldown_s,
                "group_gap": group_gap,
            }
        }
    )


def rule(z: Zone | None = None, s: RulesSettings | None = None) -> StallDwellRule:
    z = z if z is not None else zone()
    return StallDwellRule(z, ZoneGeometry(z, RES), "cam1", s if s is not None else settings())


def detections(*objs: Obj) -> Detections:
    if not objs:
        return Detections.empty(NAMES)
    return Detections(
        xyxy=np.array([o.box for o in objs], dtype=np.float32),
        confidence=np.array([o.conf for o in objs], dtype=np.float32),
        class_id=np.array([NAMES.index(o.label) for o in objs], dtype=np.int64),
        names=NAMES,
        tracker_id=np.array([o.tid for o in objs], dtype=np.int64),
    )


def frame(
    objs: list[Obj],
    ts: datetime,
    *,
    stationary: frozenset[int] = frozenset(),
    held: list[Obj] | None = None,
) -> RuleFrame:
    """A rule frame with a tracker snapshot (``stationary`` ids, ``held`` tracks)."""
    snapshot = TrackSnapshot(detections(*(held or [])), stationary)
    return RuleFrame(detections(*objs), ts, tracks=snapshot)


def run(
    r: Rule,
    frames: list[list[Obj]],
    *,
    start: datetime = T0,
    step_s: float = 1.0,
    stationary: frozenset[int] = frozenset(),
) -> list[tuple[int, RuleEvent]]:
    """Feed one frame per ``step_s``; return ``(frame index, event)`` for every event."""
    out: list[tuple[int, RuleEvent]] = []
    for k, objs in enumerate(frames):
        ts = start + timedelta(seconds=k * step_s)
        for event in r.update(frame(objs, ts, stationary=stationary)):
            out.append((k, event))
    return out


def phases(events: list[tuple[int, RuleEvent]]) -> list[tuple[int, str, int]]:
    """``(frame, phase, tracker id)`` of each event, for compact assertions."""
    return [(k, e.phase.value, e.tracker_id) for k, e in events]
