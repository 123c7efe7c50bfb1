"""Runs every rule of one camera on each analysed frame.

Which rules watch a zone depends on its kind: :data:`DEFAULT_RULES` maps each
:class:`~zones.config.ZoneKind` to the rule factories that apply; adding a rule is a matter of
adding its class there (or passing another mapping). A rule that cannot be built (its model
file is missing) is logged and listed in :attr:`RuleEngine.failures`; a rule that raises on a
frame is logged and skipped for that frame. Either way the camera's other rules keep running.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from types import MappingProxyType

from edge.rules.base import Rule, RuleFactory, RuleFrame, RuleResources
from edge.rules.construction import ConstructionSiteRule
from edge.rules.crossdoor import CrossDoorRule
from edge.rules.events import RuleEvent
from edge.rules.settings import RulesSettings
from edge.rules.stall import StallDwellRule
from edge.rules.trucks import MuckTruckRule
from edge.sensors.samples import SensorSample
from edge.tracking import TrackSnapshot
from edge.types import Detections, ImageArray
from zones.config import CameraZones, ZoneKind
from zones.geometry import ZoneGeometry

logger = logging.getLogger(__name__)

DEFAULT_RULES: Mapping[ZoneKind, Sequence[RuleFactory]] = MappingProxyType(
    {
        ZoneKind.NO_VENDING: (StallDwellRule,),
        ZoneKind.SHOP_FRONTAGE: (CrossDoorRule,),
        ZoneKind.ROAD: (MuckTruckRule,),
        ZoneKind.CONSTRUCTION_SITE: (ConstructionSiteRule,),
    }
)
"""The rules that watch each zone kind."""


class RuleEngine:
    """Every rule for every zone of one camera.

    Args:
        camera_zones: The camera's validated zones.
        resolution_wh: ``(width, height)`` of the frames whose detections will be fed; build a
            new engine if the stream's resolution changes.
        settings: Timezone and per-rule settings; defaults when omitted.
        rules: Zone kind -> rule factories; :data:`DEFAULT_RULES` when omitted.
        resources: Shared models (the truck cover classifier); when omitted or without a
            classifier, it is loaded from ``settings.muck_truck.cover_model`` if a road zone
            needs it.

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
        resources: RuleResources | None = None,
    ) -> None:
        self.camera_id = camera_zones.camera_id
        self.resolution_wh = resolution_wh
        self.settings = settings if settings is not None else RulesSettings()
        factories = DEFAULT_RULES if rules is None else rules
        self.resources = self._resources(camera_zones, factories, resources)
        self.geometries: dict[str, ZoneGeometry] = {}
        self.rules: list[Rule] = []
        self.failures: list[str] = []
        """One line per rule that could not be built (zone, rule, reason)."""
        for zone in camera_zones.zones:
            geometry = ZoneGeometry(zone, resolution_wh)
            self.geometries[zone.id] = geometry
            kind_rules = factories.get(zone.kind, ())
            if not kind_rules:
                logger.info(
                    "camera %s: zone %s is a %s zone; no rule watches that kind",
                    self.camera_id,
                    zone.id,
                    zone.kind.value,
                )
            for factory in kind_rules:
                try:
                    rule = factory(zone, geometry, self.camera_id, self.settings, self.resources)
                except (OSError, ValueError) as exc:
                    name = getattr(factory, "__name__", repr(factory))
                    problem = f"camera {self.camera_id}: zone {zone.id}: {name} not started: {exc}"
                    logger.error("%s; the camera's other rules keep running", problem)
                    self.failures.append(problem)
                    continue
                self.rules.append(rule)
        self.sites = frozenset(z.site_id for z in camera_zones.zones if z.site_id is not None)
        """Sensor sites the camera's construction zones name (``site_id``)."""
        logger.info(
            "camera %s: %d rule(s) on %d zone(s)",
            self.camera_id,
            len(self.rules),
            len(camera_zones.zones),
        )

    def _resources(
        self,
        camera_zones: CameraZones,
        factories: Mapping[ZoneKind, Sequence[RuleFactory]],
        given: RuleResources | None,
    ) -> RuleResources:
        resources = given if given is not None else RuleResources()
        needs_cover = any(MuckTruckRule in factories.get(z.kind, ()) for z in camera_zones.zones)
        if needs_cover and resources.cover_classifier is None:
            from edge.rules.cover import OnnxCoverClassifier

            path = self.settings.muck_truck.cover_model
            try:
                resources = replace(resources, cover_classifier=OnnxCoverClassifier(path))
            except (OSError, ValueError) as exc:
                logger.error(
                    "camera %s: cannot load the cover classifier %s: %s",
                    self.camera_id,
                    path,
                    exc,
                )
        return resources

    def update(
        self,
        detections: Detections,
        ts: datetime,
        *,
        image: ImageArray | None = None,
        tracks: TrackSnapshot | None = None,
        readings: Sequence[SensorSample] = (),
    ) -> list[RuleEvent]:
        """Feed one analysed frame to every rule.

        Args:
            detections: Tracked detections in pixels of ``resolution_wh`` frames.
            ts: The frame's timezone-aware timestamp.
            image: The frame's BGR pixels, for rules that need them (truck covers).
            tracks: The tracker's snapshot after this frame (stationary and held tracks).
            readings: Sensor samples that arrived since the previous frame.

        Returns:
            Every rule's events for this frame, rule by rule in zone-file order.

        Raises:
            ValueError: If ``ts`` is naive or ``image`` is not an HxWx3 uint8 array.
        """
        frame = RuleFrame(detections, ts, image, tracks, tuple(readings))
        return self._each_rule(
            lambda rule: rule.update(frame), f"failed on the frame at {ts.isoformat()}; skipped"
        )

    def close(self, ts: datetime) -> list[RuleEvent]:
        """End every open event of every rule (the worker is stopping)."""
        return self._each_rule(lambda rule: rule.close(ts), "failed to close")

    def _each_rule(
        self, call: Callable[[Rule], Sequence[RuleEvent]], failure: str
    ) -> list[RuleEvent]:
        """Every rule's events from ``call``, in order; a rule that raises is logged and skipped."""
        events: list[RuleEvent] = []
        for rule in self.rules:
            try:
                events.extend(call(rule))
            except Exception:
                logger.exception(
                    "camera %s: rule %s on zone %s %s",
                    self.camera_id,
                    rule.name,
                    rule.zone_id,
                    failure,
                )
        return events
