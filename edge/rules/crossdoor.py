"""The cross-door rule (跨门经营): goods put out beyond a shop's door line.

A ``shop_frontage`` zone names its shop (id and name: the party that signed the frontage
commitment) and a door line with its street side. An object of the zone's classes (goods,
racks, tables, stalls) *counts* when its anchor (bottom centre, where it stands) is in the
zone and on the street side of the line by at least ``line_margin`` of its box height (so a
box jittering across the line does not count), on ``inertia`` consecutive frames
(:class:`~edge.rules.presence.PresenceBook`; held stationary tracks keep counting).

The whole frontage is one violation: once something has stood beyond the line for the
zone's ``dwell_s`` during business hours (``business_hours``; empty = always) and outside
``legal_hours``, one case starts that names the shop in its details; it is updated at most
every ``update_interval_s`` while goods stay out (more may come, ids may change), stays open
for ``cooldown_s`` after the last of them went back in (goods put out again in that time
continue it), and ends then. When business hours end, an open case ends, and goods still out
when they begin again count from that moment.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime

import numpy as np

from contracts.events import EventPhase, ViolationType
from edge.rules.base import RuleFrame, RuleResources
from edge.rules.events import RuleEvent
from edge.rules.presence import PresenceBook, union_box
from edge.rules.settings import RulesSettings
from edge.rules.stall import new_event_id
from edge.types import Detections, FloatArray
from zones.config import Zone, ZoneKind
from zones.geometry import BoolArray, ZoneGeometry
from zones.schedule import in_any_window

logger = logging.getLogger(__name__)

RULE_NAME = "cross_door"


class CrossDoorRule:
    """Raises ``cross_door`` cases naming the shop whose goods stand beyond its door line.

    Args:
        zone: A ``shop_frontage`` zone (with ``shop`` and ``door_line``).
        geometry: The zone in pixels of the frames to come.
        camera_id: The camera, copied into every event.
        settings: Timezone and this rule's settings (``settings.cross_door``).
        resources: Unused (the factory signature).
        id_factory: Makes event ids (uuid4 hex by default).

    Raises:
        ValueError: If the zone is not a ``shop_frontage`` zone with a shop and a door line,
            or ``geometry`` is of another zone.
    """

    def __init__(
        self,
        zone: Zone,
        geometry: ZoneGeometry,
        camera_id: str,
        settings: RulesSettings,
        resources: RuleResources | None = None,
        *,
        id_factory: Callable[[], str] = new_event_id,
    ) -> None:
        if zone.kind is not ZoneKind.SHOP_FRONTAGE or zone.shop is None or zone.door_line is None:
            raise ValueError(
                f"{RULE_NAME} needs a shop_frontage zone with a shop and a door_line, "
                f"zone {zone.id!r} is {zone.kind.value}"
            )
        if geometry.zone.id != zone.id:
            raise ValueError(f"geometry is of zone {geometry.zone.id!r}, not {zone.id!r}")
        del resources
        self.zone = zone
        self.shop = zone.shop
        self.geometry = geometry
        self.camera_id = camera_id
        self.settings = settings
        self.cfg = settings.cross_door
        self._tz = settings.tzinfo()
        self._id_factory = id_factory
        self._book = PresenceBook(zone.inertia, self.cfg.lost_grace_s)
        self._last_ts: datetime | None = None
        self._active_since: datetime | None = None  # None: active since the start
        self._was_active = True
        # the case
        self._event_id: str | None = None
        self._first_seen: datetime | None = None
        self._last_seen: datetime | None = None
        self._last_emit: datetime | None = None
        self._xyxy: FloatArray = np.zeros(4, dtype=np.float32)
        self._label = "goods"
        self._tracker_id = -1
        self._confidence = 0.0
        self._counts: dict[str, int] = {}

    @property
    def name(self) -> str:
        """The rule's name, as in its events."""
        return RULE_NAME

    @property
    def zone_id(self) -> str:
        """The zone the rule watches."""
        return self.zone.id

    def _beyond(self, detections: Detections) -> BoolArray:
        mask = self.geometry.trigger(detections)
        line = self.geometry.door_line
        if not mask.any() or line is None:
            return mask
        value = line.side_value(detections.bottom_center)
        if self.zone.door_line is not None and self.zone.door_line.street_side in ("above", "left"):
            value = -value
        xyxy = detections.xyxy.astype(np.float64)
        size = (xyxy[:, 3] - xyxy[:, 1]) if line.flat else (xyxy[:, 2] - xyxy[:, 0])
        out: BoolArray = mask & (value > self.cfg.line_margin * size)
        return out

    def update(self, frame: RuleFrame) -> list[RuleEvent]:
        """Feed one analysed frame; return the events it produced (usually none)."""
        ts = frame.ts
        if self._last_ts is not None and ts < self._last_ts:
            logger.warning(
                "%s %s/%s: frame at %s is older than the last one; ignored",
                RULE_NAME,
                self.camera_id,
                self.zone.id,
                ts.isoformat(),
            )
            return []
        self._last_ts = ts
        held = frame.held
        held_ids = frozenset(int(t) for t in held.tracker_id[self._beyond(held)].tolist())
        self._book.update(frame.detections, self._beyond(frame.detections), ts, held_ids)
        out = self._book.entered()
        active = (
            not self.zone.business_hours or in_any_window(self.zone.business_hours, ts, self._tz)
        ) and not in_any_window(self.zone.legal_hours, ts, self._tz)
        if active and not self._was_active:
            self._active_since = ts
        self._was_active = active

        if out:
            self._counts = dict(Counter(p.label for p in out))
            self._xyxy = union_box([p.xyxy for p in out])
            self._label = (
                "goods"
                if "goods" in self._counts
                else max(self._counts, key=lambda k: self._counts[k])
            )
            first = min(out, key=lambda p: (p.entered_at or ts, p.tracker_id))
            self._tracker_id = first.tracker_id
            self._confidence = max(p.confidence for p in out)
            seen = [p.last_in for p in out if p.last_in is not None]
            if seen and active:
                self._last_seen = max(seen)
        if not active:
            if self._event_id is not None:
                return [self._end("business hours ended")]
            return []
        if not out:
            if self._event_id is not None:
                assert self._last_seen is not None
                if (ts - self._last_seen).total_seconds() >= self.cfg.cooldown_s:
                    return [self._end("goods back behind the line")]
            return []
        since = min(p.entered_at or ts for p in out)
        if self._active_since is not None:
            since = max(since, self._active_since)
        if self._event_id is None:
            if (ts - since).total_seconds() < self.zone.dwell_s:
                return []
            self._event_id = self._id_factory()
            self._first_seen = since
            self._last_emit = ts
            self._last_seen = ts
            logger.info(
                "%s %s/%s: %d object(s) of shop %s (%s) beyond the door line for %.0f s",
                RULE_NAME,
                self.camera_id,
                self.zone.id,
                len(out),
                self.shop.id,
                self.shop.name,
                (ts - since).total_seconds(),
            )
            return [self._event(EventPhase.START, ts)]
        assert self._last_emit is not None
        if (ts - self._last_emit).total_seconds() >= self.cfg.update_interval_s:
            self._last_emit = ts
            return [self._event(EventPhase.UPDATE, ts)]
        return []

    def close(self, ts: datetime) -> list[RuleEvent]:
        """End the open case, if any (the worker is stopping); forget every object."""
        self._book.clear()
        if self._event_id is None:
            return []
        return [self._end(f"closed at {ts.isoformat()}")]

    def _end(self, why: str) -> RuleEvent:
        assert self._last_seen is not None and self._first_seen is not None
        logger.debug("%s %s/%s: case ends (%s)", RULE_NAME, self.camera_id, self.zone.id, why)
        event = self._event(EventPhase.END, max(self._last_seen, self._first_seen))
        self._event_id = None
        self._first_seen = None
        self._last_emit = None
        return event

    def _event(self, phase: EventPhase, last_seen: datetime) -> RuleEvent:
        assert self._event_id is not None and self._first_seen is not None
        return RuleEvent(
            event_id=self._event_id,
            phase=phase,
            camera_id=self.camera_id,
            zone_id=self.zone.id,
            rule=RULE_NAME,
            violation_type=ViolationType.CROSS_DOOR,
            label=self._label,
            confidence=self._confidence,
            xyxy=self._xyxy,
            tracker_id=self._tracker_id,
            first_seen=self._first_seen,
            last_seen=last_seen,
            dwell_s=(last_seen - self._first_seen).total_seconds(),
            details={
                "shop_id": self.shop.id,
                "shop_name": self.shop.name,
                "objects": sum(self._counts.values()),
                "labels": ",".join(f"{k}:{v}" for k, v in sorted(self._counts.items())),
            },
        )
