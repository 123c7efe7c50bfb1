"""The street-stall rule (占道设摊 / 游商): a stall that stays in a ``no_vending`` zone.

Objects of the zone's classes are followed with a :class:`~edge.rules.presence.PresenceBook`
(inertia, grace for misses, held stationary tracks). An object counts only once the tracker
calls it **stationary** (its box has stayed put for the tracker's ``stationary.after_s``): a
stall *stays*; a cart pushed along the pavement, a bag carried by, or a detector's "goods" on
a group of passers-by moves on and never opens a case. Its dwell still counts from when it
entered the zone, so with ``dwell_s`` at least ``after_s`` nothing starts later for it. Each
frame the stationary objects are **grouped**: boxes at most ``group_gap`` box heights apart
belong to one stall, so an umbrella, its table, its goods and the vendor are one violation
and one case. A **person** counts only beside a stall object (a vendor who stays with a
cart); people walking by, or standing alone, never do.

Life of a stall (a group):

* **violation**: once a stall object of the group has been in the zone outside legal hours
  for the zone's ``dwell_s``, a ``start`` event is emitted; while it stays, an ``update`` at
  most every ``update_interval_s``.
* **one case**: the group keeps its case when members come and go or ids change; when two
  groups merge, the older case goes on (a younger open one ends); when the whole stall is
  gone, its case stays open for ``cooldown_s``, and a stall seen again at the same place in
  that time continues it. Then the ``end`` is emitted, with the last time it was seen.
* **legal hours**: inside them nothing starts; a case that is open when they begin ends
  there, and the stay's illegal time counts again from the first frame after them (so a
  stay split by legal hours may give one case per illegal part).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from contracts.events import EventPhase, ViolationType
from edge.rules.base import (
    CaseTimes,
    RuleFrame,
    RuleResources,
    Subject,
    ZoneRule,
)
from edge.rules.events import RuleEvent
from edge.rules.presence import Presence, PresenceBook, union_box
from edge.tracking import box_iou
from edge.types import FloatArray
from zones.config import ZoneKind
from zones.schedule import in_any_window

logger = logging.getLogger(__name__)

RULE_NAME = "stall_dwell"
PERSON = "person"
_UNTRACKED_WARN_FRAMES = 10


@dataclass(slots=True, eq=False)
class _Group:
    """One stall: a set of nearby tracks and its case."""

    key: int
    members: set[int]
    entered_at: datetime  # earliest entry of a stall object of the group
    anchor: int  # the first stall object's track: the event's tracker_id
    xyxy: FloatArray
    label: str = "stall"
    confidence: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    saw_legal: bool = False
    illegal_since: datetime | None = None
    case: CaseTimes = field(default_factory=CaseTimes)  # its last_seen: the group's


class StallDwellRule(ZoneRule):
    """Raises ``street_stall`` cases for stalls that stay in one ``no_vending`` zone.

    Args:
        zone: The zone (its ``objects``, ``dwell_s``, ``inertia`` and ``legal_hours`` apply).
        geometry: The zone in pixels of the frames to come.
        camera_id: The camera, copied into every event.
        settings: Timezone and this rule's settings (``settings.stall_dwell``).
        resources: Unused (the factory signature).
        id_factory: Makes event ids (uuid4 hex by default).

    Raises:
        ValueError: If the zone is not a ``no_vending`` zone or ``geometry`` is of another
            zone.
    """

    rule_name = RULE_NAME
    violation_type = ViolationType.STREET_STALL
    zone_kind = ZoneKind.NO_VENDING
    needs = "a no_vending zone"

    def _setup(self, resources: RuleResources | None) -> None:
        del resources
        self.cfg = self.settings.stall_dwell
        self._book = PresenceBook(self.zone.inertia, self.cfg.lost_grace_s)
        self._groups: list[_Group] = []
        self._next_key = 1
        self._untracked_frames = 0
        self._warned_no_snapshot = False

    def update(self, frame: RuleFrame) -> list[RuleEvent]:
        """Feed one analysed frame.

        Args:
            frame: Tracked detections in pixels, the time, and the tracker's snapshot.

        Returns:
            The events this frame produced (usually none): ends first, then starts and
            updates, each in group order.
        """
        ts = frame.ts
        if self._out_of_order(ts):
            return []
        detections = frame.detections
        in_zone = self.geometry.trigger(detections.xyxy, detections.class_id, detections.names)
        tracked = detections.tracker_id >= 0
        if in_zone.any() and not tracked.any():
            self._untracked_frames += 1
            if self._untracked_frames == _UNTRACKED_WARN_FRAMES:
                self._log(
                    logging.WARNING,
                    "%d frames of detections in the zone, none with a tracker_id; "
                    "untracked detections are ignored: is a tracker configured?",
                    _UNTRACKED_WARN_FRAMES,
                )
        elif tracked.any():
            self._untracked_frames = 0
            if frame.tracks is None and not self._warned_no_snapshot:
                self._warned_no_snapshot = True
                self._log(
                    logging.WARNING,
                    "frames come without the tracker's snapshot: nothing is known to stay, so "
                    "no stall case can open (pass tracks=tracker.snapshot())",
                )
        held = frame.held
        held_in = self.geometry.trigger(held.xyxy, held.class_id, held.names)
        held_ids = frozenset(int(t) for t in held.tracker_id[held_in].tolist())
        self._book.update(detections, in_zone, ts, held_ids)
        components = self._components(self._book.entered(), frame.stationary_ids)
        legal = in_any_window(self.zone.legal_hours, ts, self._tz)

        ends: list[RuleEvent] = []
        active: list[_Group] = []
        for members in components:
            group, closed = self._assign(members, ts)
            ends.extend(closed)
            active.append(group)
        for group in list(self._groups):
            if group in active:
                continue
            group.members = set()
            if group.case.event_id is None:
                self._groups.remove(group)
            elif group.case.cooled_down(ts, self.cfg.cooldown_s):
                self._groups.remove(group)
                ends.append(self._close_event(group, "gone"))
        others: list[RuleEvent] = []
        for group in sorted(active, key=lambda g: g.key):
            self._refresh(group, ts)
            others.extend(self._judge(group, ts, legal))
        return ends + others

    def close(self, ts: datetime) -> list[RuleEvent]:
        """End every open case (the worker is stopping); forget every object.

        Args:
            ts: Now; used only for the log.
        """
        events = [
            self._close_event(g, f"closed at {ts.isoformat()}")
            for g in sorted(self._groups, key=lambda g: g.key)
            if g.case.event_id is not None
        ]
        self._groups.clear()
        self._book.clear()
        return events

    # -----------------------------------------------------------------------------------------

    def _components(
        self, entered: list[Presence], stationary: frozenset[int]
    ) -> list[list[Presence]]:
        """Stationary entered objects grouped by nearness; only groups with a stall object count."""
        eligible = [p for p in entered if p.tracker_id in stationary]
        if not eligible:
            return []
        boxes = np.stack([p.xyxy for p in eligible]).astype(np.float64)
        heights = boxes[:, 3] - boxes[:, 1]
        n = len(eligible)
        parent = list(range(n))

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        gap = self.cfg.group_gap
        for i in range(n):
            for j in range(i + 1, n):
                margin = gap * max(heights[i], heights[j])
                dx = max(boxes[i, 0] - boxes[j, 2], boxes[j, 0] - boxes[i, 2], 0.0)
                dy = max(boxes[i, 1] - boxes[j, 3], boxes[j, 1] - boxes[i, 3], 0.0)
                if dx <= margin and dy <= margin:
                    parent[find(i)] = find(j)
        by_root: dict[int, list[Presence]] = {}
        for i, p in enumerate(eligible):
            by_root.setdefault(find(i), []).append(p)
        groups = [g for g in by_root.values() if any(p.label != PERSON for p in g)]
        return sorted(groups, key=lambda g: min(p.tracker_id for p in g))

    def _assign(self, members: list[Presence], ts: datetime) -> tuple[_Group, list[RuleEvent]]:
        """The group that ``members`` continue (merging groups they bridge), or a new one."""
        ids = {p.tracker_id for p in members}
        owners = sorted((g for g in self._groups if g.members & ids), key=lambda g: g.key)
        closed: list[RuleEvent] = []
        stall_entries = [p.entered_at for p in members if p.label != PERSON and p.entered_at]
        entered_at = min(stall_entries) if stall_entries else ts
        box = union_box([p.xyxy for p in members])
        if not owners:
            owners = self._revivable(box)
        if owners:
            # The oldest case goes on; a younger open case of the same stall ends.
            with_case = [g for g in owners if g.case.event_id is not None]
            keep = with_case[0] if with_case else owners[0]
            for other in owners:
                if other is keep:
                    continue
                keep.entered_at = min(keep.entered_at, other.entered_at)
                if other.case.event_id is not None:
                    closed.append(self._close_event(other, f"merged into group {keep.key}"))
                self._groups.remove(other)
            keep.members = ids
            keep.entered_at = min(keep.entered_at, entered_at)
            keep.xyxy = box
            return keep, closed
        anchor = min(p.tracker_id for p in members if p.label != PERSON)
        group = _Group(self._next_key, ids, entered_at, anchor, box)
        self._next_key += 1
        self._groups.append(group)
        return group, closed

    def _revivable(self, box: FloatArray) -> list[_Group]:
        """A memberless group in cool-down whose last box overlaps ``box``."""
        waiting = [g for g in self._groups if not g.members and g.case.event_id is not None]
        if not waiting:
            return []
        iou = box_iou(np.stack([g.xyxy for g in waiting]), box.reshape(1, 4))[:, 0]
        best = int(np.argmax(iou))
        return [waiting[best]] if iou[best] > 0.0 else []

    def _refresh(self, group: _Group, ts: datetime) -> None:
        members = [p for t in sorted(group.members) if (p := self._book.get(t)) is not None]
        labels = Counter(p.label for p in members)
        group.counts = dict(labels)
        stalls = [p for p in members if p.label != PERSON]
        if stalls and group.anchor not in {p.tracker_id for p in stalls}:
            group.anchor = min(p.tracker_id for p in stalls)
        group.label = (
            "stall"
            if labels.get("stall")
            else Counter(p.label for p in stalls).most_common(1)[0][0]
        )
        group.confidence = max([group.confidence, *(p.confidence for p in stalls)])
        seen = [p.last_in for p in members if p.last_in is not None]
        group.case.last_seen = max(seen) if seen else (group.case.last_seen or ts)

    def _judge(self, group: _Group, ts: datetime, legal: bool) -> list[RuleEvent]:
        """Start, update or (as legal hours begin) end the case of a stall in the zone."""
        if legal:
            group.saw_legal = True
            group.illegal_since = None
            if group.case.event_id is not None:
                return [self._close_event(group, "legal hours began")]
            return []
        if group.illegal_since is None:
            group.illegal_since = ts if group.saw_legal else group.entered_at
        dwell = (ts - group.illegal_since).total_seconds()
        if group.case.event_id is None:
            if dwell < self.zone.dwell_s:
                return []
            group.case.open(self._id_factory(), group.illegal_since, ts)
            self._log(
                logging.INFO,
                "stall (group %d, %s) in the zone for %.0f s",
                group.key,
                self._describe(group),
                dwell,
            )
            return [self._event(group, EventPhase.START, ts)]
        if group.case.update_due(ts, self.cfg.update_interval_s):
            return [self._event(group, EventPhase.UPDATE, ts)]
        return []

    def _close_event(self, group: _Group, why: str) -> RuleEvent:
        case = group.case
        assert case.last_seen is not None and case.first_seen is not None
        self._log(logging.DEBUG, "group %d case ends (%s)", group.key, why)
        event = self._event(group, EventPhase.END, max(case.last_seen, case.first_seen))
        case.reset()
        return event

    @staticmethod
    def _describe(group: _Group) -> str:
        return ",".join(f"{label}:{n}" for label, n in sorted(group.counts.items()))

    def _event(self, group: _Group, phase: EventPhase, last_seen: datetime) -> RuleEvent:
        return self._rule_event(
            group.case.event_id,
            phase,
            group.case.first_seen,
            last_seen,
            Subject(group.label, group.confidence, group.xyxy, group.anchor),
            {"objects": sum(group.counts.values()), "labels": self._describe(group)},
        )
