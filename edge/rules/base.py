"""The interface every rule implements, so the engine can run them side by side."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from edge.rules.events import RuleEvent
from edge.rules.settings import RulesSettings
from edge.types import Detections
from zones.config import Zone
from zones.geometry import ZoneGeometry


class Rule(Protocol):
    """One rule watching one zone of one camera. Pure: time comes in with each frame."""

    @property
    def name(self) -> str:
        """The rule's name, as in its events (``"stall_dwell"``)."""
        ...

    @property
    def zone_id(self) -> str:
        """The zone it watches."""
        ...

    def update(self, detections: Detections, ts: datetime) -> list[RuleEvent]:
        """Feed one analysed frame's tracked detections; return the events it produced."""
        ...

    def close(self, ts: datetime) -> list[RuleEvent]:
        """End every open event and forget all state (the worker is stopping)."""
        ...


RuleFactory = Callable[[Zone, ZoneGeometry, str, RulesSettings], Rule]
"""Builds a rule from ``(zone, geometry, camera_id, settings)``; rule classes are factories."""
