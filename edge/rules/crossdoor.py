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
from datetime import datetime

import numpy as np

from contracts.events import EventPhase, ViolationType
from edge.rules.base import CaseTimes, RuleFrame, RuleResources, Subject, ZoneRule
from edge.rules.events import RuleEvent
from edge.rules.presence import PresenceBook, union_box
from edge.types import Detections, FloatArray
from zones.config import Zone, ZoneKind
from zones.geometry import BoolArray
from zones.schedule import in_any_window

logger = logging.getLogger(__name__)

RULE_NAME = "cross_door"


class CrossDoorRule(ZoneRule):
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

    rule_name = RULE_NAME
    violation_type = ViolationType.CROSS_DOOR
    zone_kind = ZoneKind.SHOP_FRONTAGE
    needs = "a shop_frontage zone with a shop and a door_line"

    def _fits(self, zone: Zone) -> bool:
        return zone.kind is self.zone_kind and zone.shop is not None and zone.door_line is not None

    def _setup(self, resources: RuleResources | None) -> None:
        assert self.zone.shop is not None
        del resources
        self.shop = self.zone.shop
        self.cfg = self.settings.cross_door
        self._book = PresenceBook(self.zone.inertia, self.cfg.lost_grace_s)
        self._active_since: datetime | None = None  # None: active since the start
        self._was_active = True
        # the case
        self._case = CaseTimes()
        self._xyxy: FloatArray = np.zeros(4, dtype=np.float32)
        self._label = "goods"
        self._tracker_id = -1
        self._confidence = 0.0
        self._counts: dict[str, int] = {}

    def _beyond(self, detections: Detections) -> BoolArray:
        mask = self.geometry.trigger(detections.xyxy, detections.class_id, detections.names)
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
        if self._out_of_order(ts):
            return []
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
                self._case.last_seen = max(seen)
        case = self._case
        if not active:
            if case.event_id is not None:
                return [self._end("business hours ended")]
            return []
        if not out:
            if case.event_id is not None and case.cooled_down(ts, self.cfg.cooldown_s):
                return [self._end("goods back behind the line")]
            return []
        since = min(p.entered_at or ts for p in out)
        if self._active_since is not None:
            since = max(since, self._active_since)
        if case.event_id is None:
            if (ts - since).total_seconds() < self.zone.dwell_s:
                return []
            case.open(self._id_factory(), since, ts)
            case.last_seen = ts
            self._log(
                logging.INFO,
                "%d object(s) of shop %s (%s) beyond the door line for %.0f s",
                len(out),
                self.shop.id,
                self.shop.name,
                (ts - since).total_seconds(),
            )
            return [self._event(EventPhase.START, ts)]
        if case.update_due(ts, self.cfg.update_interval_s):
            return [self._event(EventPhase.UPDATE, ts)]
        return []

    def close(self, ts: datetime) -> list[RuleEvent]:
        """End the open case, if any (the worker is stopping); forget every object."""
        self._book.clear()
        if self._case.event_id is None:
            return []
        return [self._end(f"closed at {ts.isoformat()}")]

    def _end(self, why: str) -> RuleEvent:
        case = self._case
        assert case.last_seen is not None and case.first_seen is not None
        self._log(logging.DEBUG, "case ends (%s)", why)
        event = self._event(EventPhase.END, max(case.last_seen, case.first_seen))
        case.reset()
        return event

    def _event(self, phase: EventPhase, last_seen: datetime) -> RuleEvent:
        return self._rule_event(
            self._case.event_id,
            phase,
            self._case.first_seen,
            last_seen,
            Subject(self._label, self._confidence, self._xyxy, self._tracker_id),
            {
                "shop_id": self.shop.id,
                "shop_name": self.shop.name,
                "objects": sum(self._counts.values()),
                "labels": ",".join(f"{k}:{v}" for k, v in sorted(self._counts.items())),
            },
        )
