"""SimpleTracker: greedy IoU association within each class, with a centre-distance fallback."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from edge.tracking.matching import box_iou, centre_distance, greedy_assignment
from edge.tracking.settings import SimpleTrackerSettings
from edge.tracking.snapshot import TrackSnapshot, require_aware
from edge.tracking.stillness import Stillness
from edge.types import Detections, FloatArray, IntArray

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _SimpleTrack:
    tracker_id: int
    label: str
    xyxy: FloatArray
    confidence: float
    missed: int
    last_seen: datetime
    still: Stillness


class SimpleTracker:
    """IoU tracker with a centroid fallback, associating within each class.

    Args:
        settings: Thresholds; defaults when omitted.

    Example:
        >>> import numpy as np
        >>> from datetime import UTC, datetime
        >>> tracker = SimpleTracker()
        >>> d = Detections(xyxy=np.array([[0, 0, 10, 10]], np.float32),
        ...                confidence=np.array([0.9], np.float32),
        ...                class_id=np.array([0]), names=("stall",))
        >>> tracker.update(d, datetime(2025, 1, 1, tzinfo=UTC)).tracker_id.tolist()
        [1]
    """

    def __init__(self, settings: SimpleTrackerSettings | None = None) -> None:
        self.settings = settings if settings is not None else SimpleTrackerSettings()
        self._tracks: list[_SimpleTrack] = []
        self._next_id = 1
        self._snapshot = TrackSnapshot.empty(())

    @property
    def active_ids(self) -> list[int]:
        """Ids of the tracks alive now (seen, or missed for at most ``max_missed`` frames)."""
        return [t.tracker_id for t in self._tracks]

    def snapshot(self) -> TrackSnapshot:
        """Stationary tracks after the latest update (this tracker holds none)."""
        return self._snapshot

    def update(self, detections: Detections, ts: datetime) -> Detections:
        """Associate one analysed frame's detections with the live tracks.

        Args:
            detections: This frame's detections (any ``tracker_id`` they carry is replaced).
            ts: The frame's timezone-aware timestamp.

        Returns:
            The same detections, in the same order, with ``tracker_id`` set for every one.

        Raises:
            ValueError: If ``ts`` is naive.
        """
        require_aware(ts)
        n = len(detections)
        ids: IntArray = np.full(n, -1, dtype=np.int64)
        labels = detections.class_name
        matched_tracks: set[int] = set()
        stationary = self.settings.stationary
        for label in sorted(set(labels)):
            det_idx = [i for i in range(n) if labels[i] == label]
            track_idx = [k for k, t in enumerate(self._tracks) if t.label == label]
            for k, i in self._associate(track_idx, det_idx, detections.xyxy):
                track = self._tracks[k]
                track.xyxy = detections.xyxy[i].copy()
                track.confidence = float(detections.confidence[i])
                track.missed = 0
                track.last_seen = ts
                track.still.observe(track.xyxy.astype(np.float64), ts, stationary.max_shift)
                ids[i] = track.tracker_id
                matched_tracks.add(k)
        survivors: list[_SimpleTrack] = []
        for k, track in enumerate(self._tracks):
            if k not in matched_tracks:
                track.missed += 1
                if track.missed > self.settings.max_missed:
                    logger.debug("track %d (%s) lost", track.tracker_id, track.label)
                    continue
            survivors.append(track)
        for i in np.flatnonzero(ids < 0).tolist():
            box = detections.xyxy[i].copy()
            track = _SimpleTrack(
                self._next_id,
                labels[i],
                box,
                float(detections.confidence[i]),
                0,
                ts,
                Stillness(box.astype(np.float64), ts),
            )
            self._next_id += 1
            survivors.append(track)
            ids[i] = track.tracker_id
        self._tracks = survivors
        still = frozenset(
            t.tracker_id
            for t in survivors
            if t.still.still_for_s(t.last_seen) >= stationary.after_s
        )
        self._snapshot = TrackSnapshot(Detections.empty(detections.names), still)
        return detections.with_tracker_id(ids)

    def _associate(
        self, track_idx: list[int], det_idx: list[int], xyxy: FloatArray
    ) -> list[tuple[int, int]]:
        """Match tracks to detections of one class; returns (track index, detection index)."""
        if not track_idx or not det_idx:
            return []
        track_boxes = np.stack([self._tracks[k].xyxy for k in track_idx])
        det_boxes = xyxy[det_idx]
        iou = box_iou(track_boxes, det_boxes)
        pairs = greedy_assignment(iou, iou >= self.settings.iou_threshold, descending=True)
        if self.settings.centroid_max_dist > 0:
            free_rows = sorted(set(range(len(track_idx))) - {r for r, _ in pairs})
            free_cols = sorted(set(range(len(det_idx))) - {c for _, c in pairs})
            if free_rows and free_cols:
                rel = centre_distance(track_boxes[free_rows], det_boxes[free_cols])
                near = rel <= self.settings.centroid_max_dist
                fallback = greedy_assignment(rel, near, descending=False)
                pairs.extend((free_rows[r], free_cols[c]) for r, c in fallback)
        return [(track_idx[r], det_idx[c]) for r, c in pairs]
