"""The street-stall dwell rule (占道设摊): an object that stays in a ``no_vending`` zone.

Life of one tracked object in one zone (Frigate's inertia and loitering time):

* **entering**: its anchor must be in the zone on ``inertia`` consecutive frames in which it
  is detected (a frame where it is missed neither counts nor resets; a frame where it is seen
  outside resets). It has then *entered*, as of the first of those frames.
* **violation**: once it has been in the zone outside legal hours for the zone's ``dwell_s``,
  a ``start`` event is emitted; while it stays, an ``update`` at most every
  ``update_interval_s``; when it is gone, an ``end``. One event per object per stay.
* **gone**: seen outside the zone on ``inertia`` consecutive frames, or not detected at all
  for longer than ``lost_grace_s``.
* **legal hours**: inside them nothing starts; an event that is open when they begin ends
  there, and the stay's illegal time counts again from the first frame after them (so a
  stay split by legal hours may give one event per illegal part).

Detections without a track (``tracker_id == -1``) are ignored: the rule follows objects.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from contracts.events import EventPhase, ViolationType
from edge.rules.events import RuleEvent
from edge.rules.settings import RulesSettings
from edge.types import Detections, FloatArray
from zones.config import Zone, ZoneKind
from zones.geometry import BoolArray, ZoneGeometry
from zones.schedule import in_any_window

logger = logging.getLogger(__name__)

RULE_NAME = "stall_dwell"


def new_event_id() -> str:
    """A fresh event id: uuid4 as 32 lowercase hex characters."""
    return uuid.uuid4().hex


@dataclass(slots=True)
class _Stay:
    """What the rule knows about one track in its zone."""

    tracker_id: int
    label: str
    xyxy: FloatArray
    confidence: float
    first_hit: datetime  # first of the current run of in-zone frames (before entering)
    hits: int = 0
    entered_at: datetime | None = None
    out_frames: int = 0
    last_present: datetime | None = None
    last_in: datetime | None = None
    saw_legal: bool = False
    illegal_since: datetime | None = None
    event_id: str | None = None
    event_first_seen: datetime | None = None
    last_emit: datetime | None = None


class StallDwellRule:
    """Raises ``street_stall`` events for objects that stay in one ``no_vending`` zone.

    Args:
        zone: The zone (its ``dwell_s``, ``inertia`` and ``legal_hours`` apply).
        geometry: The zone in pixels of the frames to come.
        camera_id: The camera, copied into every event.
        settings: Timezone and this rule's settings.
        id_factory: Makes event ids (uuid4 hex by default).

    Raises:
        ValueError: If the zone is not a ``no_vending`` zone or ``geometry`` is of another
            zone.
    """

    def __init__(
        self,
        zone: Zone,
        geometry: ZoneGeometry,
        camera_id: str,
        settings: RulesSettings,
        *,
        id_factory: Callable[[], str] = new_event_id,
    ) -> None:
        if zone.kind is not ZoneKind.NO_VENDING:
            raise ValueError(
                f"{RULE_NAME} needs a no_vending zone, zone {zone.id!r} is {zone.kind}"
            )
        if geometry.zone.id != zone.id:
            raise ValueError(f"geometry is of zone {geometry.zone.id!r}, not {zone.id!r}")
        self.zone = zone
        self.geometry = geometry
        self.camera_id = camera_id
        self.settings = settings
        self._tz = settings.tzinfo()
        self._id_factory = id_factory
        self._stays: dict[int, _Stay] = {}
        self._last_ts: datetime | None = None
        self._warned_untracked = False

    @property
    def name(self) -> str:
        """The rule's name, as in its events."""
        return RULE_NAME

    @property
    def zone_id(self) -> str:
        """The zone the rule watches."""
        return self.zone.id

    def update(self, detections: Detections, ts: datetime) -> list[RuleEvent]:
        """Feed one analysed frame's tracked detections.

        Args:
            detections: Detections in pixels, with ``tracker_id`` set by a tracker.
            ts: The frame's timezone-aware timestamp; must not go backwards.

        Returns:
            The events this frame produced (usually none): ends first, then starts and
            updates, each in tracker-id order.

        Raises:
            ValueError: If ``ts`` is naive.
        """
        if ts.tzinfo is None or ts.utcoffset() is None:
            raise ValueError("ts must be timezone-aware (UTC)")
        if self._last_ts is not None and ts < self._last_ts:
            logger.warning(
                "%s %s/%s: frame at %s is older than the last one (%s); ignored",
                RULE_NAME,
                self.camera_id,
                self.zone.id,
                ts.isoformat(),
                self._last_ts.isoformat(),
            )
            return []
        self._last_ts = ts
        settings = self.settings.stall_dwell
        in_zone = self.geometry.trigger(detections)
        tracked = detections.tracker_id >= 0
        if not self._warned_untracked and (in_zone & ~tracked).any():
            self._warned_untracked = True
            logger.warning(
                "%s %s/%s: detections without tracker_id are ignored; is a tracker configured?",
                RULE_NAME,
                self.camera_id,
                self.zone.id,
            )
        inside = self._by_track(detections, in_zone & tracked)
        present = {int(t) for t in detections.tracker_id[tracked].tolist()}
        legal = in_any_window(self.zone.legal_hours, ts, self._tz)
        labels = detections.names

        ends: list[RuleEvent] = []
        for tid in sorted(self._stays):
            stay = self._stays[tid]
            if tid in inside:
                continue
            if tid in present:
                stay.last_present = ts
                if stay.entered_at is None:
                    del self._stays[tid]  # a flicker in, then out: start over
                    continue
                stay.out_frames += 1
                if stay.out_frames >= self.zone.inertia:
                    ends.extend(self._leave(stay, "left the zone"))
            else:
                last = stay.last_present or stay.first_hit
                if (ts - last).total_seconds() > settings.lost_grace_s:
                    ends.extend(self._leave(stay, "lost"))

        others: list[RuleEvent] = []
        for tid in sorted(inside):
            i = inside[tid]
            label = labels[int(detections.class_id[i])]
            conf = float(detections.confidence[i])
            if tid not in self._stays:
                self._stays[tid] = _Stay(tid, label, detections.xyxy[i].copy(), conf, first_hit=ts)
            stay = self._stays[tid]
            stay.label = label
            stay.xyxy = detections.xyxy[i].copy()
            stay.confidence = max(stay.confidence, conf)
            stay.last_present = ts
            stay.last_in = ts
            stay.out_frames = 0
            if legal:
                stay.saw_legal = True
            if stay.entered_at is None:
                if stay.hits == 0:
                    stay.first_hit = ts
                stay.hits += 1
                if stay.hits < self.zone.inertia:
                    continue
                stay.entered_at = stay.first_hit
                logger.debug(
                    "%s %s/%s: track %d entered", RULE_NAME, self.camera_id, self.zone.id, tid
                )
            others.extend(self._judge(stay, ts, legal))
        return ends + others

    def close(self, ts: datetime) -> list[RuleEvent]:
        """End every open event (the worker is stopping); forget every object.

        Args:
            ts: Now; used only for the log.
        """
        events: list[RuleEvent] = []
        for tid in sorted(self._stays):
            events.extend(self._leave(self._stays[tid], f"closed at {ts.isoformat()}"))
        self._stays.clear()
        return events

    # -----------------------------------------------------------------------------------------

    @staticmethod
    def _by_track(detections: Detections, mask: BoolArray) -> dict[int, int]:
        """Track id -> detection index; a track twice in one frame keeps its best score."""
        best: dict[int, int] = {}
        for i in np.flatnonzero(mask).tolist():
            tid = int(detections.tracker_id[i])
            if tid not in best or detections.confidence[i] > detections.confidence[best[tid]]:
                best[tid] = i
        return best

    def _judge(self, stay: _Stay, ts: datetime, legal: bool) -> list[RuleEvent]:
        """Start, update or (as legal hours begin) end the violation of an object in zone."""
        if legal:
            stay.illegal_since = None
            if stay.event_id is not None:
                logger.info(
                    "%s %s/%s: track %d: legal hours began, ending its event",
                    RULE_NAME,
                    self.camera_id,
                    self.zone.id,
                    stay.tracker_id,
                )
                return [self._close_event(stay)]
            return []
        if stay.illegal_since is None:
            assert stay.entered_at is not None
            stay.illegal_since = ts if stay.saw_legal else stay.entered_at
        dwell = (ts - stay.illegal_since).total_seconds()
        if stay.event_id is None:
            if dwell < self.zone.dwell_s:
                return []
            stay.event_id = self._id_factory()
            stay.event_first_seen = stay.illegal_since
            stay.last_emit = ts
            return [self._event(stay, EventPhase.START, ts)]
        assert stay.last_emit is not None
        if (ts - stay.last_emit).total_seconds() >= self.settings.stall_dwell.update_interval_s:
            stay.last_emit = ts
            return [self._event(stay, EventPhase.UPDATE, ts)]
        return []

    def _leave(self, stay: _Stay, why: str) -> list[RuleEvent]:
        self._stays.pop(stay.tracker_id, None)
        if stay.entered_at is not None:
            logger.debug(
                "%s %s/%s: track %d gone (%s)",
                RULE_NAME,
                self.camera_id,
                self.zone.id,
                stay.tracker_id,
                why,
            )
        if stay.event_id is None:
            return []
        return [self._close_event(stay)]

    def _close_event(self, stay: _Stay) -> RuleEvent:
        assert stay.last_in is not None
        event = self._event(stay, EventPhase.END, stay.last_in)
        stay.event_id = None
        stay.event_first_seen = None
        stay.last_emit = None
        return event

    def _event(self, stay: _Stay, phase: EventPhase, last_seen: datetime) -> RuleEvent:
        assert stay.event_id is not None and stay.event_first_seen is not None
        return RuleEvent(
            event_id=stay.event_id,
            phase=phase,
            camera_id=self.camera_id,
            zone_id=self.zone.id,
            rule=RULE_NAME,
            violation_type=ViolationType.STREET_STALL,
            label=stay.label,
            confidence=stay.confidence,
            xyxy=stay.xyxy,
            tracker_id=stay.tracker_id,
            first_seen=stay.event_first_seen,
            last_seen=last_seen,
            dwell_s=(last_seen - stay.event_first_seen).total_seconds(),
        )
