"""The muck-truck rule (渣土车未密闭): a truck on a ``road`` zone with its load open.

A truck *passes* when it enters the zone (``inertia`` frames, as every zone) or, when the
zone has a ``crossing_line``, when its anchor crosses that line in the configured direction.
While it is in the zone, every analysed frame crops its **load region**
(:func:`edge.rules.cover.load_region`) and asks the cover classifier; each frame votes
*uncovered* (probability at least ``uncovered_p``), *covered* (at most ``covered_p``) or, in
between, not at all: the classifier is unsure there, as on a cab seen from the front. The
**consensus** over the last ``window`` votes decides: ``votes`` of them agreeing (3 of 5) give
the pass its verdict.

The two verdicts do not weigh the same. *Uncovered* rests on soil seen in the load region and
is final. *Covered* is also what the classifier says when it sees no load at all: the load
region is the top of the truck's box, and a truck coming towards the camera or seen from the
front shows its cab there until the bed behind it comes into view. So a *covered* verdict
stands only until the truck has left: its frames are still classified, and an *uncovered*
consensus later in the pass (the open bed in view past the cab) overrides it.

An *uncovered* verdict on a counted pass starts one case (``start``) with the best crop of
the load (the uncovered vote with the highest probability times crop size) and of the
**plate region** (the lower rear of the box, rear being the trailing side of its motion; the
middle of the bottom for a truck seen head-on) as evidence, and the verdict in its details;
the case ends when the truck has left (after ``cooldown_s``). A *covered* verdict raises
nothing. One truck is one pass: a track that is lost and a new one starting within
``cooldown_s`` near where it was continue the same pass (same votes, same case).

**The plate** is read when the case starts, if a plate reader is configured
(``settings.muck_truck.plate_reader``, loaded once by the worker into
:class:`~edge.rules.base.RuleResources`): the truck's pixels of its best uncovered frames (up
to ``plate_reader.frames``) are read and the text most of them agree on goes into the case
(``plate``, ``plate_colour``, ``plate_confidence``, ``plate_frames``), with the plate's crop as
the ``plate`` evidence instead of the plate region. ``plate_status`` always says whether the
plate was read, and if not, why (no reader configured, the reader did not load, no plate
found).
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from contracts.events import EventPhase, EvidenceKind, ViolationType
from edge.plates.case import NO_PLATE_READER, PLATE_READER_NOT_LOADED, CasePlate, TruckViews
from edge.plates.settings import PlateReaderSettings
from edge.rules.base import RuleFrame, RuleResources, Subject, ZoneRule
from edge.rules.cover import CoverClassifier, crop, load_region
from edge.rules.events import ImageAttachment, RuleEvent
from edge.rules.presence import PresenceBook
from edge.tracking import centre_distance
from edge.types import FloatArray, ImageArray
from zones.config import Zone, ZoneKind
from zones.schedule import in_any_window

logger = logging.getLogger(__name__)

RULE_NAME = "muck_truck"
TRUCK = "truck"


def plate_region(
    xyxy: FloatArray, direction_x: float, resolution_wh: tuple[int, int]
) -> FloatArray:
    """Where a truck's rear plate is expected in its box.

    Args:
        xyxy: The truck box in pixels.
        direction_x: Its horizontal motion (pixels; sign matters): the rear is the trailing
            side. Near zero (head-on or tail-on view), the middle of the bottom.
        resolution_wh: Frame size, for clipping.

    Returns:
        ``(4,)`` float32 box in pixels.
    """
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    w, h = x2 - x1, y2 - y1
    top = y1 + 0.55 * h
    if abs(direction_x) < 0.1 * w:
        left, right = x1 + 0.2 * w, x2 - 0.2 * w
    elif direction_x > 0:  # moving right: the rear is on the left
        left, right = x1, x1 + 0.4 * w
    else:
        left, right = x2 - 0.4 * w, x2
    width, height = resolution_wh
    return np.array(
        [max(0.0, left), max(0.0, top), min(float(width), right), min(float(height), y2)],
        dtype=np.float32,
    )


def _overlap_of_smaller(a: FloatArray, b: FloatArray) -> float:
    """Intersection of two boxes over the area of the smaller one."""
    ix = max(0.0, float(min(a[2], b[2]) - max(a[0], b[0])))
    iy = max(0.0, float(min(a[3], b[3]) - max(a[1], b[1])))
    smaller = min(float((a[2] - a[0]) * (a[3] - a[1])), float((b[2] - b[0]) * (b[3] - b[1])))
    return ix * iy / smaller if smaller > 0 else 0.0


@dataclass(slots=True, eq=False)
class _Pass:
    """One truck's way through the zone."""

    key: int
    tracker_id: int  # its first track: the event's tracker_id
    tracks: set[int]
    first_anchor: FloatArray
    last_anchor: FloatArray
    xyxy: FloatArray
    first_seen: datetime
    last_seen: datetime
    confidence: float
    counted: bool = False
    votes: deque[bool] = field(default_factory=deque)
    probs: list[float] = field(default_factory=list)
    verdict: str | None = None
    best_score: float = -1.0
    best_load: ImageArray | None = None
    best_plate: ImageArray | None = None
    best_at: datetime | None = None
    best_xyxy: FloatArray | None = None
    views: TruckViews | None = None
    plate: CasePlate | None = None
    gone_since: datetime | None = None
    event_id: str | None = None


class MuckTruckRule(ZoneRule):
    """Raises ``muck_truck`` cases for trucks passing a road zone with an uncovered load.

    Args:
        zone: A ``road`` zone listing ``truck`` among its objects.
        geometry: The zone in pixels of the frames to come.
        camera_id: The camera, copied into every event.
        settings: Timezone and this rule's settings (``settings.muck_truck``).
        resources: Must carry the cover classifier; may carry the plate reader.
        id_factory: Makes event ids (uuid4 hex by default).

    Raises:
        ValueError: If the zone is not a ``road`` zone with ``truck`` among its objects,
            ``geometry`` is of another zone, or there is no cover classifier.
    """

    rule_name = RULE_NAME
    violation_type = ViolationType.MUCK_TRUCK
    zone_kind = ZoneKind.ROAD
    needs = "a road zone with 'truck' among its objects"

    def _fits(self, zone: Zone) -> bool:
        return zone.kind is self.zone_kind and TRUCK in zone.objects

    def _zone_state(self, zone: Zone) -> str:
        return f"{zone.kind.value} with {zone.objects}"

    def _setup(self, resources: RuleResources | None) -> None:
        if resources is None or resources.cover_classifier is None:
            raise ValueError(
                "no cover classifier (self.settings.muck_truck.cover_model did not load); "
                "trucks cannot be judged"
            )
        self.classifier: CoverClassifier = resources.cover_classifier
        self.cfg = self.settings.muck_truck
        self.plates = resources.plate_reader
        configured = self.cfg.plate_reader
        self._plate_frames: int = (
            configured.frames
            if configured is not None
            else PlateReaderSettings.model_fields["frames"].get_default()
        )
        self._no_plate = CasePlate(
            NO_PLATE_READER if configured is None else PLATE_READER_NOT_LOADED
        )
        self._book = PresenceBook(self.zone.inertia, self.cfg.lost_grace_s)
        self._passes: list[_Pass] = []
        self._next_key = 1
        self._warned_no_image = False
        self.verdicts: dict[str, int] = {"covered": 0, "uncovered": 0, "undecided": 0}
        """Passes over (left, or closed) by final verdict (``undecided``: no consensus)."""

    def update(self, frame: RuleFrame) -> list[RuleEvent]:
        """Feed one analysed frame (detections and pixels)."""
        ts = frame.ts
        if self._out_of_order(ts):
            return []
        detections = frame.detections
        in_zone = self.geometry.trigger(detections.xyxy, detections.class_id, detections.names)
        self._book.update(detections, in_zone, ts)
        events: list[RuleEvent] = []
        present: list[tuple[_Pass, int]] = []
        tracked = in_zone & (detections.tracker_id >= 0)
        here = {int(t) for t in detections.tracker_id[tracked].tolist()}
        # largest boxes first: a second, smaller box on the same truck joins its pass
        order = sorted(
            np.flatnonzero(tracked).tolist(),
            key=lambda i: -float(np.prod(detections.xyxy[i, 2:] - detections.xyxy[i, :2])),
        )
        for i in order:
            tid = int(detections.tracker_id[i])
            box = detections.xyxy[i].copy()
            truck = self._pass_of(tid, box, ts, here)
            truck.confidence = max(truck.confidence, float(detections.confidence[i]))
            if any(t is truck for t, _ in present):
                continue  # one box per truck and frame: the largest
            self._move(truck, box, ts, tid)
            present.append((truck, i))
        present.sort(key=lambda p: p[0].key)
        self._classify(frame, present)
        legal = in_any_window(self.zone.legal_hours, ts, self._tz)
        for truck, _ in present:
            events.extend(self._judge(truck, ts, legal))
        events = self._retire(ts, {id(t) for t, _ in present}) + events
        return events

    def close(self, ts: datetime) -> list[RuleEvent]:
        """End every open case (the worker is stopping)."""
        events = [self._end(p, f"closed at {ts.isoformat()}") for p in self._passes if p.event_id]
        for truck in self._passes:
            self._tally(truck)
        self._passes.clear()
        self._book.clear()
        return events

    # -----------------------------------------------------------------------------------------

    def _pass_of(self, tid: int, box: FloatArray, ts: datetime, here: set[int]) -> _Pass:
        for truck in self._passes:
            if tid in truck.tracks:
                return truck
        anchor = np.array([(box[0] + box[2]) / 2.0, box[3]], dtype=np.float32)
        # a second box on a truck already passing (its bed apart from its cab, a box as
        # "bus" and one as "truck"): the same truck
        for truck in self._passes:
            if truck.last_seen == ts and _overlap_of_smaller(truck.xyxy, box) >= 0.6:
                truck.tracks.add(tid)
                return truck
        # passes none of whose tracks is in this frame: the truck may be back under a new id
        waiting = [p for p in self._passes if not p.tracks & here and p.last_seen < ts]
        if waiting:
            dist = centre_distance(np.stack([p.xyxy for p in waiting]), box.reshape(1, 4))[:, 0]
            best = int(np.argmin(dist))
            if dist[best] <= self.cfg.rejoin_dist:
                truck = waiting[best]
                truck.tracks.add(tid)
                truck.gone_since = None
                self._log(
                    logging.DEBUG,
                    "track %d continues the pass of track %d",
                    tid,
                    truck.tracker_id,
                )
                return truck
        truck = _Pass(
            key=self._next_key,
            tracker_id=tid,
            tracks={tid},
            first_anchor=anchor,
            last_anchor=anchor,
            xyxy=box,
            first_seen=ts,
            last_seen=ts,
            confidence=0.0,
            votes=deque(maxlen=self.cfg.window),
        )
        self._next_key += 1
        self._passes.append(truck)
        return truck

    def _move(self, truck: _Pass, box: FloatArray, ts: datetime, tid: int) -> None:
        anchor = np.array([(box[0] + box[2]) / 2.0, box[3]], dtype=np.float32)
        line = self.geometry.crossing_line
        if not truck.counted:
            if line is None:
                presence = self._book.get(tid)
                truck.counted = presence is not None and presence.entered
            elif bool(line.crossed(truck.last_anchor, anchor)[0]):
                to_side = self.zone.crossing_line.to_side if self.zone.crossing_line else None
                truck.counted = to_side is None or bool(line.on_side(anchor, to_side)[0])
        truck.last_anchor = anchor
        truck.xyxy = box
        truck.last_seen = ts
        truck.gone_since = None

    def _classify(self, frame: RuleFrame, present: list[tuple[_Pass, int]]) -> None:
        if not present:
            return
        if frame.image is None:
            if not self._warned_no_image:
                self._warned_no_image = True
                self._log(
                    logging.WARNING, "frames come without pixels; truck loads cannot be classified"
                )
            return
        image = frame.image
        wh = (int(image.shape[1]), int(image.shape[0]))
        todo: list[tuple[_Pass, FloatArray, ImageArray]] = []
        for truck, i in present:
            if truck.verdict == "uncovered":
                continue  # final: nothing more to learn
            box = load_region(frame.detections.xyxy[i], wh)
            if min(box[2] - box[0], box[3] - box[1]) < self.cfg.min_load_px:
                continue
            todo.append((truck, frame.detections.xyxy[i].copy(), crop(image, box)))
        if not todo:
            return
        probs = self.classifier.p_uncovered([c for _, _, c in todo])
        for (truck, xyxy, load), p in zip(todo, probs.tolist(), strict=True):
            truck.probs.append(p)
            uncovered = self.cfg.vote(p)
            if uncovered is None:
                continue  # unsure: no vote
            truck.votes.append(uncovered)
            score = p * float(np.sqrt(load.shape[0] * load.shape[1]))
            if uncovered and score > truck.best_score:
                motion = float(truck.last_anchor[0] - truck.first_anchor[0])
                truck.best_score = score
                truck.best_load = load
                truck.best_plate = crop(image, plate_region(xyxy, motion, wh))
                truck.best_at = frame.ts
                truck.best_xyxy = xyxy
            if uncovered and self.plates is not None and truck.event_id is None:
                if truck.views is None:
                    truck.views = TruckViews(self._plate_frames)
                truck.views.offer(score, frame.ts, image, xyxy)

    def _read_plate(self, truck: _Pass) -> CasePlate:
        """Read the plate on the truck's kept frames (the text most of them agree on)."""
        if self.plates is None:
            return self._no_plate
        views, truck.views = truck.views or TruckViews(self._plate_frames), None
        plate = views.read(self.plates)
        self._log(
            logging.INFO,
            "truck %d plate %s",
            truck.tracker_id,
            " ".join(f"{k}={v}" for k, v in plate.details.items()),
        )
        return plate

    def _judge(self, truck: _Pass, ts: datetime, legal: bool) -> list[RuleEvent]:
        if truck.verdict != "uncovered":
            yes = sum(truck.votes)
            no = len(truck.votes) - yes
            earlier = truck.verdict
            if yes >= self.cfg.votes:
                truck.verdict = "uncovered"
            elif no >= self.cfg.votes and earlier is None:
                truck.verdict = "covered"
            if truck.verdict != earlier:
                self._log(
                    logging.INFO,
                    "truck %d load %s (%d of %d votes)%s",
                    truck.tracker_id,
                    truck.verdict,
                    max(yes, no),
                    len(truck.votes),
                    " after all: the frames judged covered did not show the open load"
                    if earlier == "covered"
                    else "",
                )
        if truck.verdict != "uncovered" or truck.event_id is not None:
            return []
        if not truck.counted or legal:
            return []
        truck.event_id = self._id_factory()
        truck.plate = self._read_plate(truck)
        return [self._event(truck, EventPhase.START, ts)]

    def _retire(self, ts: datetime, present: set[int]) -> list[RuleEvent]:
        events: list[RuleEvent] = []
        for truck in list(self._passes):
            if id(truck) in present:
                continue
            if any((p := self._book.get(t)) is not None and p.entered for t in truck.tracks):
                continue  # missed in this frame only
            if truck.gone_since is None:
                truck.gone_since = ts
            if (ts - truck.last_seen).total_seconds() < self.cfg.cooldown_s:
                continue
            self._passes.remove(truck)
            self._tally(truck)
            if truck.verdict is None:
                self._log(
                    logging.INFO,
                    "truck %d left before a verdict (%d frame(s) classified)",
                    truck.tracker_id,
                    len(truck.probs),
                )
            if truck.event_id is not None:
                events.append(self._end(truck, "left"))
        return events

    def _tally(self, truck: _Pass) -> None:
        """Count a pass that is over by its final verdict."""
        self.verdicts[truck.verdict or "undecided"] += 1

    def _end(self, truck: _Pass, why: str) -> RuleEvent:
        self._log(logging.DEBUG, "pass of truck %d ends (%s)", truck.tracker_id, why)
        event = self._event(truck, EventPhase.END, truck.last_seen)
        truck.event_id = None
        return event

    @staticmethod
    def _direction(truck: _Pass) -> str:
        dx, dy = (float(v) for v in truck.last_anchor - truck.first_anchor)
        if max(abs(dx), abs(dy)) < 1.0:
            return "none"
        if abs(dx) >= abs(dy):
            return "rightward" if dx > 0 else "leftward"
        return "downward" if dy > 0 else "upward"

    def _event(self, truck: _Pass, phase: EventPhase, last_seen: datetime) -> RuleEvent:
        yes = sum(truck.votes)
        attachments: tuple[ImageAttachment, ...] = ()
        if phase is EventPhase.START and truck.best_load is not None:
            assert truck.best_at is not None and truck.best_plate is not None
            plate = ImageAttachment(EvidenceKind.PLATE, truck.best_plate, truck.best_at)
            if truck.plate is not None and truck.plate.captured_at is not None:
                plate_crop = truck.plate.crop
                assert plate_crop is not None
                plate = ImageAttachment(EvidenceKind.PLATE, plate_crop, truck.plate.captured_at)
            attachments = (
                ImageAttachment(EvidenceKind.LOAD, truck.best_load, truck.best_at),
                plate,
            )
        probs = truck.probs or [0.0]
        xyxy = truck.xyxy
        if phase is EventPhase.START and truck.best_xyxy is not None:
            xyxy = truck.best_xyxy
        return self._rule_event(
            truck.event_id,
            phase,
            truck.first_seen,
            max(last_seen, truck.first_seen),
            Subject(TRUCK, truck.confidence, xyxy, truck.tracker_id),
            {
                "cover": truck.verdict or "undecided",
                "votes": f"{yes}/{len(truck.votes)}",
                "p_uncovered_mean": round(float(np.mean(probs)), 3),
                "p_uncovered_max": round(float(np.max(probs)), 3),
                "direction": self._direction(truck),
                "cover_model": self.classifier.name,
                **(truck.plate.details if truck.plate is not None else {}),
            },
            attachments,
        )
