"""Which tracked objects are in a zone, with inertia (Frigate's) and a grace for misses.

Life of one track in one zone's :class:`PresenceBook`:

* **entering**: its anchor must be in the zone on ``inertia`` consecutive frames in which it
  is detected (a frame where it is missed neither counts nor resets; a frame where it is seen
  outside resets). It has then *entered*, as of the first of those frames.
* **present**: entered and not gone; its latest box and best score are kept.
* **gone**: seen outside the zone on ``inertia`` consecutive frames, or not detected at all
  for longer than ``lost_grace_s``. A track the tracker *holds* (stationary, re-verified,
  briefly undetected) counts as seen where it was.

Detections without a track (``tracker_id == -1``) are ignored: zones follow objects.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from edge.types import Detections, FloatArray
from zones.geometry import BoolArray

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Presence:
    """What a zone knows about one track.

    Attributes:
        tracker_id: The track.
        label: Its latest object name.
        xyxy: Its latest box in the zone, pixels.
        confidence: Best detection score seen in the zone.
        first_hit: First frame of the current run of in-zone frames (before entering).
        hits: In-zone frames of that run.
        entered_at: When it entered (the run's first frame), once it has.
        out_frames: Consecutive frames seen outside since last inside.
        last_present: Last frame it was detected (anywhere) or held.
        last_in: Last frame it was detected in the zone.
    """

    tracker_id: int
    label: str
    xyxy: FloatArray
    confidence: float
    first_hit: datetime
    hits: int = 0
    entered_at: datetime | None = None
    out_frames: int = 0
    last_present: datetime | None = None
    last_in: datetime | None = None

    @property
    def entered(self) -> bool:
        """Whether it has entered (and not yet left)."""
        return self.entered_at is not None


class PresenceBook:
    """Tracks in one zone, frame by frame.

    Args:
        inertia: Consecutive in-zone (or out-of-zone) detected frames to enter (or leave).
        lost_grace_s: Seconds a track may go undetected before it counts as gone.
    """

    def __init__(self, inertia: int, lost_grace_s: float) -> None:
        if inertia < 1:
            raise ValueError(f"inertia must be >= 1, got {inertia}")
        self.inertia = inertia
        self.lost_grace_s = lost_grace_s
        self._tracks: dict[int, Presence] = {}

    def update(
        self,
        detections: Detections,
        inside: BoolArray,
        ts: datetime,
        held_ids: frozenset[int] = frozenset(),
    ) -> list[Presence]:
        """Fold in one frame.

        Args:
            detections: The frame's tracked detections.
            inside: Which of them count in the zone (and for the rule).
            ts: The frame's time.
            held_ids: Tracks the tracker holds without a detection in this frame.

        Returns:
            The tracks that were entered and are gone as of this frame (by track id).
        """
        tracked = detections.tracker_id >= 0
        in_zone = self._by_track(detections, inside & tracked)
        present = {int(t) for t in detections.tracker_id[tracked].tolist()}
        labels = detections.names
        gone: list[Presence] = []
        for tid in sorted(self._tracks):
            p = self._tracks[tid]
            if tid in in_zone:
                continue
            if tid in present:
                p.last_present = ts
                if not p.entered:
                    del self._tracks[tid]  # a flicker in, then out: start over
                    continue
                p.out_frames += 1
                if p.out_frames >= self.inertia:
                    del self._tracks[tid]
                    gone.append(p)
            elif tid in held_ids:
                p.last_present = ts
            else:
                last = p.last_present or p.first_hit
                if (ts - last).total_seconds() > self.lost_grace_s:
                    del self._tracks[tid]
                    if p.entered:
                        gone.append(p)
        for tid in sorted(in_zone):
            i = in_zone[tid]
            label = labels[int(detections.class_id[i])]
            conf = float(detections.confidence[i])
            box = detections.xyxy[i].copy()
            p = self._tracks.get(tid) or Presence(tid, label, box, conf, first_hit=ts)
            self._tracks[tid] = p
            p.label = label
            p.xyxy = box
            p.confidence = max(p.confidence, conf)
            p.last_present = ts
            p.last_in = ts
            p.out_frames = 0
            if not p.entered:
                if p.hits == 0:
                    p.first_hit = ts
                p.hits += 1
                if p.hits >= self.inertia:
                    p.entered_at = p.first_hit
        return gone

    def entered(self) -> list[Presence]:
        """Tracks that have entered and are not gone, by track id."""
        return [self._tracks[t] for t in sorted(self._tracks) if self._tracks[t].entered]

    def get(self, tracker_id: int) -> Presence | None:
        """The presence of one track, entered or not."""
        return self._tracks.get(tracker_id)

    def clear(self) -> list[Presence]:
        """Forget every track; return the entered ones."""
        out = self.entered()
        self._tracks.clear()
        return out

    @staticmethod
    def _by_track(detections: Detections, mask: BoolArray) -> dict[int, int]:
        """Track id -> detection index; a track twice in one frame keeps its best score."""
        best: dict[int, int] = {}
        for i in np.flatnonzero(mask).tolist():
            tid = int(detections.tracker_id[i])
            if tid not in best or detections.confidence[i] > detections.confidence[best[tid]]:
                best[tid] = i
        return best


def union_box(boxes: list[FloatArray]) -> FloatArray:
    """The smallest box around ``boxes`` (float32)."""
    stack = np.stack(boxes).astype(np.float32)
    out: FloatArray = np.array(
        [stack[:, 0].min(), stack[:, 1].min(), stack[:, 2].max(), stack[:, 3].max()],
        dtype=np.float32,
    )
    return out
