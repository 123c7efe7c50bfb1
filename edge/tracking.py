"""Object tracking: give each detection a ``tracker_id`` that stays with its object.

Two trackers implement :class:`Tracker`; ``type`` in the config picks one
(:func:`create_tracker`):

* :class:`ByteTracker` (``type: bytetrack``, the default): ByteTrack's two-stage association
  (confident detections first, then the low-scoring ones against the tracks still unmatched,
  which keeps ids through partial occlusion), a constant-velocity Kalman filter per track
  (``cx, cy, aspect, height`` and their velocities, per second of real time, so a dropped
  frame does not derail it), optimal assignment by ``lap.lapjv``, and a centre-distance
  fallback for objects that moved too far between two analysed frames to overlap (at 2 fps a
  passing truck moves half its length). New tracks are *tentative* until seen again.
* :class:`SimpleTracker` (``type: simple``): greedy IoU with a centre-distance fallback.

Both know which tracks are **stationary**: a track whose box centre has stayed within
``max_shift`` of its size for ``after_s`` seconds (:class:`StationarySettings`). ByteTracker
keeps a stationary track alive while it is not detected (a parked stall behind a passing bus)
and *re-verifies* it every ``reverify_every`` analysed frames: a check passes when the track
was matched to any detection, even a low-scoring one, since the previous check; a failed
check ends it. So a parked stall or truck neither vanishes nor comes back under a new id.
:meth:`Tracker.snapshot` tells rules which tracks are stationary and which stationary tracks
are being held without a detection in this frame.

Why in-house rather than Roboflow's ``trackers``: that package pulls supervision, scipy,
matplotlib and the non-headless ``opencv-python`` (which clashes with the edge's
``opencv-python-headless``), well over 150 MB on the edge image for about 300 lines of logic;
this module needs only numpy and ``lap`` (2.4 MB, BSD) and keeps our ``Detections`` and
timestamps end to end.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Literal, Protocol

import lap  # type: ignore[import-untyped]
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from edge.types import Detections, FloatArray, IntArray

logger = logging.getLogger(__name__)

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class TrackSnapshot:
    """What rules may know of a tracker's state after one update.

    Attributes:
        held: Stationary tracks kept alive although no detection matched them in this frame,
            at their last box and score (``tracker_id`` set), so a rule does not take a
            briefly hidden parked object for gone. They are not detections of this frame.
        stationary_ids: Ids of every stationary track (matched or held) after this frame.
    """

    held: Detections
    stationary_ids: frozenset[int]

    @classmethod
    def empty(cls, names: tuple[str, ...]) -> TrackSnapshot:
        """A snapshot with nothing held and nothing stationary."""
        return cls(Detections.empty(names), frozenset())


class Tracker(Protocol):
    """What the worker needs of a tracker."""

    def update(self, detections: Detections, ts: datetime) -> Detections:
        """Associate one analysed frame's detections; return them with ``tracker_id`` set."""
        ...

    def snapshot(self) -> TrackSnapshot:
        """Stationary and held tracks after the latest :meth:`update`."""
        ...


class StationarySettings(BaseModel):
    """When a track counts as stationary."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    after_s: float = Field(
        default=10.0,
        ge=0.0,
        le=3600.0,
        allow_inf_nan=False,
        description="Seconds a track must stay put before it is stationary.",
    )
    max_shift: float = Field(
        default=0.25,
        gt=0.0,
        le=2.0,
        allow_inf_nan=False,
        description="Staying put: the box centre moves at most this fraction of the box size "
        "(mean of width and height) from where it settled.",
    )


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
    stationary: StationarySettings = Field(
        default_factory=StationarySettings, description="When a track counts as stationary."
    )


class ByteTrackSettings(BaseModel):
    """Settings of :class:`ByteTracker`.

    The score thresholds are lower than ByteTrack's (0.5 / 0.6, tuned for a well-calibrated
    COCO YOLOX): the project's street model gives true stalls and goods 0.3 to 0.7, and a
    track that never starts is an object no rule sees. Raise them for a more confident
    detector. The detector's own ``confidence`` should be at most ``low_score``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["bytetrack"] = Field(
        default="bytetrack", description="Tracker kind; selects the implementation."
    )
    high_score: float = Field(
        default=0.3,
        gt=0.0,
        le=1.0,
        description="Detections scoring at least this are associated first and may start tracks.",
    )
    low_score: float = Field(
        default=0.1,
        ge=0.0,
        le=1.0,
        description="Detections scoring from this up to high_score only continue tracks (the "
        "second association); lower ones are ignored. Set the detector's confidence this low "
        "for the second stage to see anything.",
    )
    new_track_score: float = Field(
        default=0.35,
        gt=0.0,
        le=1.0,
        description="An unmatched detection starts a new (tentative) track from this score.",
    )
    match_iou: float = Field(
        default=0.2,
        gt=0.0,
        le=1.0,
        description="Least IoU between a track's predicted box and a confident detection.",
    )
    low_match_iou: float = Field(
        default=0.5,
        gt=0.0,
        le=1.0,
        description="Least IoU for the second association (low-scoring detections).",
    )
    tentative_match_iou: float = Field(
        default=0.3,
        gt=0.0,
        le=1.0,
        description="Least IoU to confirm a tentative track with a detection of the next frame.",
    )
    centroid_max_dist: float = Field(
        default=1.0,
        ge=0.0,
        le=10.0,
        description="Fallback for tracks and confident detections still unmatched: the "
        "largest distance between the predicted and the detected box centre, as a multiple "
        "of the predicted box's diagonal; 0 disables it.",
    )
    max_missed: int = Field(
        default=10,
        ge=0,
        le=10_000,
        description="Analysed frames a moving track may go without a detection before it dies "
        "(ByteTrack's track buffer).",
    )
    reverify_every: int = Field(
        default=20,
        ge=1,
        le=100_000,
        description="A stationary track is re-verified every this many analysed frames: it "
        "survives when some detection matched it since the last check, else it ends.",
    )
    class_aware: bool = Field(
        default=True,
        description="Associate only detections of the track's class.",
    )
    stationary: StationarySettings = Field(
        default_factory=StationarySettings, description="When a track counts as stationary."
    )

    @model_validator(mode="after")
    def _ordered_scores(self) -> ByteTrackSettings:
        if not self.low_score <= self.high_score <= self.new_track_score:
            raise ValueError(
                "scores must satisfy low_score <= high_score <= new_track_score, got "
                f"{self.low_score} / {self.high_score} / {self.new_track_score}"
            )
        return self


TrackerSettings = Annotated[ByteTrackSettings | SimpleTrackerSettings, Field(discriminator="type")]
"""Tracker config keyed on ``type`` (``bytetrack`` or ``simple``)."""


def create_tracker(settings: ByteTrackSettings | SimpleTrackerSettings) -> Tracker:
    """Build the tracker that ``settings.type`` names.

    Example:
        >>> create_tracker(ByteTrackSettings()).__class__.__name__
        'ByteTracker'
    """
    if isinstance(settings, ByteTrackSettings):
        return ByteTracker(settings)
    return SimpleTracker(settings)


def box_iou(a: FloatArray | F64, b: FloatArray | F64) -> F64:
    """Pairwise IoU of ``(N, 4)`` and ``(M, 4)`` xyxy boxes, as an ``(N, M)`` array."""
    a64 = a.astype(np.float64).reshape(-1, 4)
    b64 = b.astype(np.float64).reshape(-1, 4)
    lt = np.maximum(a64[:, None, :2], b64[None, :, :2])
    rb = np.minimum(a64[:, None, 2:], b64[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0.0, None), axis=2)
    area_a = np.prod(np.clip(a64[:, 2:] - a64[:, :2], 0.0, None), axis=1)
    area_b = np.prod(np.clip(b64[:, 2:] - b64[:, :2], 0.0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    iou: F64 = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return iou


def centre_distance(a: FloatArray | F64, b: FloatArray | F64) -> F64:
    """``(N, M)`` distance between box centres, as a multiple of each ``a`` box's diagonal."""
    a64 = a.astype(np.float64).reshape(-1, 4)
    b64 = b.astype(np.float64).reshape(-1, 4)
    ca = (a64[:, :2] + a64[:, 2:]) / 2.0
    cb = (b64[:, :2] + b64[:, 2:]) / 2.0
    diag = np.hypot(a64[:, 2] - a64[:, 0], a64[:, 3] - a64[:, 1])
    dist = np.linalg.norm(ca[:, None, :] - cb[None, :, :], axis=2)
    rel: F64 = dist / np.maximum(diag, 1e-9)[:, None]
    return rel


def _greedy(
    score: F64, allowed: npt.NDArray[np.bool_], *, descending: bool
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


def linear_assignment(cost: F64, max_cost: float) -> list[tuple[int, int]]:
    """Minimum-cost one-to-one pairs whose cost is at most ``max_cost`` (``lap.lapjv``).

    Args:
        cost: ``(N, M)`` costs; ``inf`` forbids a pair.
        max_cost: Pairs costing more stay unassigned.

    Returns:
        ``(row, col)`` pairs, sorted by row.
    """
    if cost.size == 0:
        return []
    finite = np.where(np.isfinite(cost), cost, max_cost + 1.0)
    _, x, _ = lap.lapjv(finite, extend_cost=True, cost_limit=max_cost)
    pairs = [(r, int(c)) for r, c in enumerate(x.tolist()) if c >= 0]
    return [(r, c) for r, c in pairs if cost[r, c] <= max_cost]


class _Stillness:
    """Whether one track has stayed put: its centre within ``max_shift`` of its size."""

    __slots__ = ("_ref", "_since", "_size")

    def __init__(self, xyxy: F64, ts: datetime) -> None:
        self._ref = (xyxy[:2] + xyxy[2:]) / 2.0
        self._size = float(np.mean(xyxy[2:] - xyxy[:2]))
        self._since = ts

    def observe(self, xyxy: F64, ts: datetime, max_shift: float) -> None:
        centre = (xyxy[:2] + xyxy[2:]) / 2.0
        size = max(float(np.mean(xyxy[2:] - xyxy[:2])), 1.0)
        if float(np.linalg.norm(centre - self._ref)) > max_shift * max(self._size, size):
            self._ref, self._size, self._since = centre, size, ts

    def still_for_s(self, ts: datetime) -> float:
        return (ts - self._since).total_seconds()


# ---------------------------------------------------------------------------------------------
# SimpleTracker


@dataclass(slots=True)
class _SimpleTrack:
    tracker_id: int
    label: str
    xyxy: FloatArray
    confidence: float
    missed: int
    last_seen: datetime
    still: _Stillness


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
        if ts.tzinfo is None or ts.utcoffset() is None:
            raise ValueError("ts must be timezone-aware (UTC)")
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
                _Stillness(box.astype(np.float64), ts),
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
        pairs = _greedy(iou, iou >= self.settings.iou_threshold, descending=True)
        if self.settings.centroid_max_dist > 0:
            free_rows = sorted(set(range(len(track_idx))) - {r for r, _ in pairs})
            free_cols = sorted(set(range(len(det_idx))) - {c for _, c in pairs})
            if free_rows and free_cols:
                rel = centre_distance(track_boxes[free_rows], det_boxes[free_cols])
                fallback = _greedy(rel, rel <= self.settings.centroid_max_dist, descending=False)
                pairs.extend((free_rows[r], free_cols[c]) for r, c in fallback)
        return [(track_idx[r], det_idx[c]) for r, c in pairs]


# ---------------------------------------------------------------------------------------------
# ByteTracker


class KalmanBoxFilter:
    """Constant-velocity Kalman filter of one box: ``(cx, cy, aspect, height)`` + velocities.

    As in ByteTrack / DeepSORT, but with velocities per second and process noise that grows
    with the real time between two analysed frames. Noise scales with the box height.
    """

    _POS = 1.0 / 20.0
    _VEL_INIT = 1.0
    _VEL_NOISE = 0.5
    _H = np.hstack([np.eye(4), np.zeros((4, 4))])

    def __init__(self, xyxy: F64) -> None:
        z = self.xyah(xyxy)
        self.mean: F64 = np.concatenate([z, np.zeros(4)])
        h = z[3]
        std = np.array(
            [
                2 * self._POS * h,
                2 * self._POS * h,
                1e-2,
                2 * self._POS * h,
                self._VEL_INIT * h,
                self._VEL_INIT * h,
                1e-5,
                self._VEL_INIT * h,
            ]
        )
        self.cov: F64 = np.diag(np.square(std))

    @staticmethod
    def xyah(xyxy: F64) -> F64:
        """``(cx, cy, w / h, h)`` of an xyxy box."""
        w = max(float(xyxy[2] - xyxy[0]), 1e-3)
        h = max(float(xyxy[3] - xyxy[1]), 1e-3)
        return np.array([(xyxy[0] + xyxy[2]) / 2.0, (xyxy[1] + xyxy[3]) / 2.0, w / h, h])

    def box(self) -> F64:
        """The current estimate as an xyxy box."""
        cx, cy, a, h = self.mean[:4]
        h = max(float(h), 1e-3)
        w = max(float(a), 1e-3) * h
        return np.array([cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0])

    def predict(self, dt_s: float) -> None:
        """Move the estimate ``dt_s`` seconds ahead."""
        if dt_s <= 0:
            return
        f = np.eye(8)
        f[:4, 4:] = np.eye(4) * dt_s
        h = max(float(self.mean[3]), 1e-3)
        q = np.square(
            np.array(
                [
                    self._POS * h,
                    self._POS * h,
                    1e-2,
                    self._POS * h,
                    self._VEL_NOISE * h,
                    self._VEL_NOISE * h,
                    1e-5,
                    self._VEL_NOISE * h,
                ]
            )
        ) * min(dt_s, 10.0)
        self.mean = f @ self.mean
        self.cov = f @ self.cov @ f.T + np.diag(q)

    def update(self, xyxy: F64) -> None:
        """Fold in a measured box."""
        z = self.xyah(xyxy)
        h = max(float(self.mean[3]), 1e-3)
        r = np.diag(np.square(np.array([self._POS * h, self._POS * h, 1e-1, self._POS * h])))
        hm = self._H
        s = hm @ self.cov @ hm.T + r
        gain = np.linalg.solve(s, hm @ self.cov).T
        self.mean = self.mean + gain @ (z - hm @ self.mean)
        self.cov = (np.eye(8) - gain @ hm) @ self.cov

    def stop(self) -> None:
        """Zero the velocity (a stationary object does not drift while hidden)."""
        self.mean[4:] = 0.0


@dataclass(slots=True, eq=False)
class _ByteTrack:
    tracker_id: int
    label: str
    kf: KalmanBoxFilter
    confidence: float
    last_seen: datetime
    still: _Stillness
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
        if ts.tzinfo is None or ts.utcoffset() is None:
            raise ValueError("ts must be timezone-aware (UTC)")
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
                still=_Stillness(boxes[i], ts),
                last_box=boxes[i].copy(),
            )
            self._next_id += 1
            survivors.append(track)
        self._tracks = survivors
        self._snapshot = self._make_snapshot(detections.names)
        return detections.with_tracker_id(ids)

    def _allowed(
        self, rows: list[int], cols: list[int], labels: list[str]
    ) -> npt.NDArray[np.bool_]:
        """``(len(rows), len(cols))``: which track / detection pairs may be associated."""
        if not self.settings.class_aware:
            return np.ones((len(rows), len(cols)), dtype=bool)
        track_labels = np.array([self._tracks[k].label for k in rows], dtype=object)
        det_labels = np.array([labels[i] for i in cols], dtype=object)
        allowed: npt.NDArray[np.bool_] = track_labels[:, None] == det_labels[None, :]
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
