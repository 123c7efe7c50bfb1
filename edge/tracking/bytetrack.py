"""ByteTracker: ByteTrack's two-stage association, Kalman motion, stationary keep-alive."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from edge.tracking.kalman import KalmanBoxFilter
from edge.tracking.matching import F64, BoolArray, box_iou, centre_distance, linear_assignment
from edge.tracking.settings import ByteTrackSettings
from edge.tracking.snapshot import TrackSnapshot, require_aware
from edge.tracking.stillness import Stillness
from edge.types import Detections, IntArray

logger = logging.getLogger(__name__)


@dataclass(slots=True, eq=False)
class _ByteTrack:
    tracker_id: int
    label: str
    kf: KalmanBoxFilter
    confidence: float
    last_seen: datetime
    still: Stillness
    confirmed: bool = False
    missed: int = 0
    stationary: bool = False
    matched_since_check: bool = True
    frames_since_check: int = 0
    last_box: F64 = field(default_factory=lambda: np.zeros(4))


class ByteTracker:
    """ByteTrack-style tracker with Kalman motion and stationary-track keep-alive.

    Each update:

    1. predicts every track to ``ts``;
    2. matches confirmed tracks (seen, missed or stationary) to confident detections by IoU;
    3. matches the confirmed tracks left to low-scoring detections (IoU ``low_match_iou``);
    4. confirms tentative tracks with the confident detections left;
    5. matches what is still left by centre distance (fast movers at a low frame rate);
    6. starts tentative tracks from confident detections left (``new_track_score``);
    7. ages unmatched tracks: a moving one dies after ``max_missed`` frames, a stationary
       one is held and re-verified every ``reverify_every`` frames.

    Detections of tentative tracks and unmatched low-scoring detections get
    ``tracker_id == -1``: rules ignore them.

    Args:
        settings: Thresholds; defaults when omitted.

    Example:
        >>> import numpy as np
        >>> from datetime import UTC, datetime, timedelta
        >>> tracker = ByteTracker()
        >>> d = Detections(xyxy=np.array([[0, 0, 10, 10]], np.float32),
        ...                confidence=np.array([0.9], np.float32),
        ...                class_id=np.array([0]), names=("stall",))
        >>> t0 = datetime(2025, 1, 1, tzinfo=UTC)
        >>> tracker.update(d, t0).tracker_id.tolist()  # tentative
        [-1]
        >>> tracker.update(d, t0 + timedelta(seconds=0.5)).tracker_id.tolist()
        [1]
    """

    def __init__(self, settings: ByteTrackSettings | None = None) -> None:
        self.settings = settings if settings is not None else ByteTrackSettings()
        self._tracks: list[_ByteTrack] = []
        self._next_id = 1
        self._last_ts: datetime | None = None
        self._snapshot = TrackSnapshot.empty(())

    @property
    def active_ids(self) -> list[int]:
        """Ids of the confirmed tracks alive now (matched, missed or held)."""
        return [t.tracker_id for t in self._tracks if t.confirmed]

    def snapshot(self) -> TrackSnapshot:
        """Stationary and held tracks after the latest update."""
        return self._snapshot

    def update(self, detections: Detections, ts: datetime) -> Detections:
        """Associate one analysed frame's detections with the live tracks.

        Args:
            detections: This frame's detections (any ``tracker_id`` they carry is replaced).
            ts: The frame's timezone-aware timestamp; a frame older than the previous one is
                tracked as if no time had passed.

        Returns:
            The same detections, in the same order, with ``tracker_id`` set (``-1`` for
            detections of tentative tracks and unmatched low-scoring ones).

        Raises:
            ValueError: If ``ts`` is naive.
        """
        require_aware(ts)
        cfg = self.settings
        dt = 0.0 if self._last_ts is None else (ts - self._last_ts).total_seconds()
        if dt < 0:
            logger.warning("frame at %s is older than the last one; tracked as simultaneous", ts)
            dt = 0.0
        else:
            self._last_ts = ts
        for track in self._tracks:
            track.kf.predict(dt)
        n = len(detections)
        ids: IntArray = np.full(n, -1, dtype=np.int64)
        labels = detections.class_name
        scores = detections.confidence.astype(np.float64)
        boxes = detections.xyxy.astype(np.float64)
        high = [i for i in range(n) if scores[i] >= cfg.high_score]
        low = [i for i in range(n) if cfg.low_score <= scores[i] < cfg.high_score]
        matched: dict[int, int] = {}  # track index -> detection index

        confirmed = [k for k, t in enumerate(self._tracks) if t.confirmed]
        tentative = [k for k, t in enumerate(self._tracks) if not t.confirmed]
        # 1. confirmed tracks x confident detections
        self._match_iou(confirmed, high, boxes, labels, cfg.match_iou, matched)
        # 2. confirmed tracks seen last frame or stationary x low-scoring detections
        second = [
            k
            for k in confirmed
            if k not in matched and (self._tracks[k].missed == 0 or self._tracks[k].stationary)
        ]
        self._match_iou(second, low, boxes, labels, cfg.low_match_iou, matched)
        # 3. tentative tracks x confident detections left
        used = set(matched.values())
        high_left = [i for i in high if i not in used]
        self._match_iou(tentative, high_left, boxes, labels, cfg.tentative_match_iou, matched)
        # 4. fallback by centre distance
        if cfg.centroid_max_dist > 0:
            used = set(matched.values())
            rows = [k for k in confirmed + tentative if k not in matched]
            cols = [i for i in high if i not in used]
            self._match_centre(rows, cols, boxes, labels, matched)

        for k, i in matched.items():
            track = self._tracks[k]
            track.kf.update(boxes[i])
            track.last_box = boxes[i].copy()
            track.label = labels[i]
            track.confidence = float(scores[i])
            track.last_seen = ts
            track.missed = 0
            track.matched_since_check = True
            track.still.observe(boxes[i], ts, cfg.stationary.max_shift)
            if not track.confirmed:
                track.confirmed = True
                logger.debug("track %d (%s) confirmed", track.tracker_id, track.label)
            ids[i] = track.tracker_id

        survivors: list[_ByteTrack] = []
        for k, track in enumerate(self._tracks):
            if k not in matched:
                if not track.confirmed:
                    continue  # a tentative track not seen again was noise
                track.missed += 1
            # judged from observations only: time unseen does not make a track stationary
            track.stationary = track.still.still_for_s(track.last_seen) >= cfg.stationary.after_s
            if track.stationary:
                track.kf.stop()
                track.frames_since_check += 1
                if track.frames_since_check >= cfg.reverify_every:
                    if not track.matched_since_check:
                        logger.debug(
                            "stationary track %d (%s) failed re-verification",
                            track.tracker_id,
                            track.label,
                        )
                        continue
                    track.frames_since_check = 0
                    track.matched_since_check = False
            else:
                track.frames_since_check = 0
                track.matched_since_check = True
                if track.missed > cfg.max_missed:
                    logger.debug("track %d (%s) lost", track.tracker_id, track.label)
                    continue
            survivors.append(track)

        used = set(matched.values())
        for i in high:
            if i in used or scores[i] < cfg.new_track_score:
                continue
            track = _ByteTrack(
                tracker_id=self._next_id,
                label=labels[i],
                kf=KalmanBoxFilter(boxes[i]),
                confidence=float(scores[i]),
                last_seen=ts,
                still=Stillness(boxes[i], ts),
                last_box=boxes[i].copy(),
            )
            self._next_id += 1
            survivors.append(track)
        self._tracks = survivors
        self._snapshot = self._make_snapshot(detections.names)
        return detections.with_tracker_id(ids)

    def _allowed(self, rows: list[int], cols: list[int], labels: list[str]) -> BoolArray:
        """``(len(rows), len(cols))``: which track / detection pairs may be associated."""
        if not self.settings.class_aware:
            return np.ones((len(rows), len(cols)), dtype=bool)
        track_labels = np.array([self._tracks[k].label for k in rows], dtype=object)
        det_labels = np.array([labels[i] for i in cols], dtype=object)
        allowed: BoolArray = track_labels[:, None] == det_labels[None, :]
        return allowed

    def _predicted(self, rows: list[int]) -> F64:
        boxes = []
        for k in rows:
            track = self._tracks[k]
            boxes.append(track.last_box if track.stationary else track.kf.box())
        return np.stack(boxes) if boxes else np.zeros((0, 4))

    def _match_iou(
        self,
        rows: list[int],
        cols: list[int],
        boxes: F64,
        labels: list[str],
        min_iou: float,
        matched: dict[int, int],
    ) -> None:
        rows = [k for k in rows if k not in matched]
        if not rows or not cols:
            return
        iou = box_iou(self._predicted(rows), boxes[cols])
        cost = np.where(self._allowed(rows, cols, labels) & (iou >= min_iou), 1.0 - iou, np.inf)
        for r, c in linear_assignment(cost, 1.0 - min_iou):
            matched[rows[r]] = cols[c]

    def _match_centre(
        self,
        rows: list[int],
        cols: list[int],
        boxes: F64,
        labels: list[str],
        matched: dict[int, int],
    ) -> None:
        if not rows or not cols:
            return
        limit = self.settings.centroid_max_dist
        dist = centre_distance(self._predicted(rows), boxes[cols])
        cost = np.where(self._allowed(rows, cols, labels) & (dist <= limit), dist, np.inf)
        for r, c in linear_assignment(cost, limit):
            matched[rows[r]] = cols[c]

    def _make_snapshot(self, names: tuple[str, ...]) -> TrackSnapshot:
        held = [
            t
            for t in self._tracks
            if t.confirmed and t.stationary and t.missed > 0 and t.label in names
        ]
        stationary = frozenset(t.tracker_id for t in self._tracks if t.confirmed and t.stationary)
        if not held:
            return TrackSnapshot(Detections.empty(names), stationary)
        detections = Detections(
            xyxy=np.stack([t.last_box for t in held]).astype(np.float32),
            confidence=np.array([t.confidence for t in held], dtype=np.float32),
            class_id=np.array([names.index(t.label) for t in held], dtype=np.int64),
            names=names,
            tracker_id=np.array([t.tracker_id for t in held], dtype=np.int64),
        )
        return TrackSnapshot(detections, stationary)
