"""Runs every rule of one camera on each analysed frame.

Which rules watch a zone depends on its kind: :data:`DEFAULT_RULES` maps each
:class:`~zones.config.ZoneKind` to the rule factories that apply; adding a rule is a matter of
adding its class there (or passing another mapping). A rule that raises is logged and skipped
for that frame; the camera's other rules keep running.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType

from edge.rules.base import Rule, RuleFactory
from edge.rules.events import RuleEvent
from edge.rules.settings import RulesSettings
from edge.rules.stall import StallDwellRule
from edge.types import Detections
from zones.config import CameraZones, ZoneKind
from zones.geometry import ZoneGeometry

logger = logging.getLogger(__name__)

DEFAULT_RULES: Mapping[ZoneKind, Sequence[RuleFactory]] = MappingProxyType(
    {
        ZoneKind.NO_VENDING: (StallDwellRule,),
    }
)
"""The rules that watch each zone kind; kinds without an entry have no rule yet."""


class RuleEngine:
    """Every rule for every zone of one camera.

    Args:
        camera_zones: The camera's validated zones.
        resolution_wh: ``(width, height)`` of the frames whose detections will be fed; build a
            new engine if the stream's resolution changes.
        settings: Timezone and per-rule settings; defaults when omitted.
        rules: Zone kind -> rule factories; :data:`DEFAULT_RULES` when omitted.

    Example:
        >>> from zones.config import CameraZones
        >>> engine = RuleEngine(CameraZones(camera_id="cam1", zones=[]), (1280, 720))
        >>> engine.rules
        []
    """

    def __init__(
        self,
        camera_zones: CameraZones,
        resolution_wh: tuple[int, int],
        settings: RulesSettings | None = None,
        *,
        rules: Mapping[ZoneKind, Sequence[RuleFactory]] | None = None,
    ) -> None:
        self.camera_id = camera_zones.camera_id
        self.resolution_wh = resolution_wh
        self.settings = settings if settings is not None else RulesSettings()
        factories = DEFAULT_RULES if rules is None else rules
        self.geometries: dict[str, ZoneGeometry] = {}
        self.rules: list[Rule] = []
        for zone in camera_zones.zones:
            geometry = ZoneGeometry(zone, resolution_wh)
            self.geometries[zone.id] = geometry
            kind_rules = factories.get(zone.kind, ())
            if not kind_rules:
                logger.info(
                    "camera %s: zone %s is a %s zone; no rule watches that kind yet",
                    self.camera_id,
                    zone.id,
                    zone.kind.value,
                )
            for factory in kind_rules:
                self.rules.append(factory(zone, geometry, self.camera_id, self.settings))
        logger.info(
            "camera %s: %d rule(s) on %d zone(s)",
            self.camera_id,
            len(self.rules),
            len(camera_zones.zones),
        )

    def update(self, detections: Detections, ts: datetime) -> list[RuleEvent]:
        """Feed one analysed frame's tracked detections to every rule.

        Args:
            detections: Tracked detections in pixels of ``resolution_wh`` frames.
            ts: The frame's timezone-aware timestamp.

        Returns:
            Every rule's events for this frame, rule by rule in zone-file order.
        """
        events: list[RuleEvent] = []
        for rule in self.rules:
            try:
                events.extend(rule.update(detections, ts))
            except Exception:
                logger.exception(
                    "camera %s: rule %s on zone %s failed on the frame at %s; skipped",
                    self.camera_id,
                    rule.name,
                    rule.zone_id,
                    ts.isoformat(),
                )
        return events

    def close(self, ts: datetime) -> list[RuleEvent]:
        """End every open event of every rule (the worker is stopping)."""
        events: list[RuleEvent] = []
        for rule in self.rules:
            try:
                events.extend(rule.close(ts))
            except Exception:
                logger.exception(
                    "camera %s: rule %s on zone %s failed to close",
                    self.camera_id,
                    rule.name,
                    rule.zone_id,
                )
        return events
