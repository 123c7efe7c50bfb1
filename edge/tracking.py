"""Object tracking: give each detection a ``tracker_id`` that stays with its object.

:class:`SimpleTracker` associates per class by IoU, greedily (best overlap first), and falls
back to the distance between box centres for objects that moved too far for any overlap. A
track that finds no detection survives ``max_missed`` analysed frames, then dies; ids are
never reused. It is pure and deterministic: the same detections give the same ids.

Every tracker implements :class:`Tracker`, so a ByteTrack-style one can replace it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from edge.types import Detections, FloatArray, IntArray

logger = logging.getLogger(__name__)


class Tracker(Protocol):
    """What the worker needs of a tracker."""

    def update(self, detections: Detections, ts: datetime) -> Detections:
        """Associate one analysed frame's detections; return them with ``tracker_id`` set."""
        ...


class SimpleTrackerSettings(BaseModel):
    """Settings of :class:`SimpleTracker`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["simple"] = Field(
        default="simple", description="Tracker kind; selects the implementation."
    )
    iou_threshold: float = Field(
        default=0.3,
        gt=0.0,
        le=1.0,
        description="Least IoU between a track's last box and a detection to associate them.",
    )
    centroid_max_dist: float = Field(
        default=0.5,
        ge=0.0,
        le=10.0,
        description="Fallback for detections without enough overlap: the largest distance "
        "between box centres, as a multiple of the track box's diagonal; 0 disables it.",
    )
    max_missed: int = Field(
        default=5,
        ge=0,
        le=10_000,
        description="Analysed frames a track may go without a detection before it dies.",
    )


@dataclass(slots=True)
class _Track:
    tracker_id: int
    label: str
    xyxy: FloatArray
    missed: int
    last_seen: datetime


def box_iou(a: FloatArray, b: FloatArray) -> npt.NDArray[np.float64]:
    """Pairwise IoU of ``(N, 4)`` and ``(M, 4)`` xyxy boxes, as an ``(N, M)`` array."""
    a64 = a.astype(np.float64).reshape(-1, 4)
    b64 = b.astype(np.float64).reshape(-1, 4)
    lt = np.maximum(a64[:, None, :2], b64[None, :, :2])
    rb = np.minimum(a64[:, None, 2:], b64[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0.0, None), axis=2)
    area_a = np.prod(np.clip(a64[:, 2:] - a64[:, :2], 0.0, None), axis=1)
    area_b = np.prod(np.clip(b64[:, 2:] - b64[:, :2], 0.0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    iou: npt.NDArray[np.float64] = np.divide(
        inter, union, out=np.zeros_like(inter), where=union > 0
    )
    return iou


def _greedy(
    score: npt.NDArray[np.float64], allowed: npt.NDArray[np.bool_], *, descending: bool
) -> list[tuple[int, int]]:
    """Pick (row, col) pairs best score first, each row and column at most once.

    Ties go to the lower row, then the lower column, so the result is deterministic.
    """
    rows, cols = np.nonzero(allowed)
    if rows.size == 0:
        return []
    values = score[rows, cols]
    order = np.lexsort((cols, rows, -values if descending else values))
    used_rows: set[int] = set()
    used_cols: set[int] = set()
    pairs: list[tuple[int, int]] = []
    for k in order.tolist():
        r, c = int(rows[k]), int(cols[k])
        if r in used_rows or c in used_cols:
            continue
        used_rows.add(r)
        used_cols.add(c)
        pairs.append((r, c))
    return pairs


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
        self._tracks: list[_Track] = []
        self._next_id = 1

    @property
    def active_ids(self) -> list[int]:
        """Ids of the tracks alive now (seen, or missed for at most ``max_missed`` frames)."""
        return [t.tracker_id for t in self._tracks]

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
        if ts.tzinfo is None or ts.utcoffset() is None:
            raise ValueError("ts must be timezone-aware (UTC)")
        n = len(detections)
        ids: IntArray = np.full(n, -1, dtype=np.int64)
        labels = detections.class_name
        matched_tracks: set[int] = set()
        for label in sorted(set(labels)):
            det_idx = [i for i in range(n) if labels[i] == label]
            track_idx = [k for k, t in enumerate(self._tracks) if t.label == label]
            for k, i in self._associate(track_idx, det_idx, detections.xyxy):
                track = self._tracks[k]
                track.xyxy = detections.xyxy[i].copy()
                track.missed = 0
                track.last_seen = ts
                ids[i] = track.tracker_id
                matched_tracks.add(k)
        survivors: list[_Track] = []
        for k, track in enumerate(self._tracks):
            if k not in matched_tracks:
                track.missed += 1
                if track.missed > self.settings.max_missed:
                    logger.debug("track %d (%s) lost", track.tracker_id, track.label)
                    continue
            survivors.append(track)
        for i in np.flatnonzero(ids < 0).tolist():
            track = _Track(self._next_id, labels[i], detections.xyxy[i].copy(), 0, ts)
            self._next_id += 1
            survivors.append(track)
            ids[i] = track.tracker_id
        self._tracks = survivors
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
        pairs = _greedy(iou, iou >= self.settings.iou_threshold, descending=True)
        if self.settings.centroid_max_dist > 0:
            free_rows = sorted(set(range(len(track_idx))) - {r for r, _ in pairs})
            free_cols = sorted(set(range(len(det_idx))) - {c for _, c in pairs})
            if free_rows and free_cols:
                tb = track_boxes[free_rows].astype(np.float64)
                db = det_boxes[free_cols].astype(np.float64)
                tc = (tb[:, :2] + tb[:, 2:]) / 2.0
                dc = (db[:, :2] + db[:, 2:]) / 2.0
                diag = np.hypot(tb[:, 2] - tb[:, 0], tb[:, 3] - tb[:, 1])
                dist = np.linalg.norm(tc[:, None, :] - dc[None, :, :], axis=2)
                rel = dist / np.maximum(diag, 1e-9)[:, None]
                fallback = _greedy(rel, rel <= self.settings.centroid_max_dist, descending=False)
                pairs.extend((free_rows[r], free_cols[c]) for r, c in fallback)
        return [(track_idx[r], det_idx[c]) for r, c in pairs]
