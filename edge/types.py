"""Currency types that cross stage boundaries inside the edge.

``Frame`` leaves a source, ``Detections`` leaves a detector (and the tracker).
Both are frozen; filters build new ``Detections`` with ``detections[mask]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
ImageArray = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded video frame.

    Attributes:
        camera_id: The camera it came from.
        seq: Sequence number per camera, increasing from 0 for every frame the source
            delivered (dropped frames leave gaps in what the worker sees).
        ts: UTC capture timestamp (wall clock at decode for live streams).
        image: BGR ``uint8`` array of shape ``(height, width, 3)``.
    """

    camera_id: str
    seq: int
    ts: datetime
    image: ImageArray

    def __post_init__(self) -> None:
        if self.ts.tzinfo is None:
            raise ValueError("Frame.ts must be timezone-aware (UTC)")
        if self.image.ndim != 3 or self.image.shape[2] != 3 or self.image.dtype != np.uint8:
            raise ValueError(
                f"Frame.image must be HxWx3 uint8, got {self.image.shape} {self.image.dtype}"
            )

    @property
    def resolution_wh(self) -> tuple[int, int]:
        return int(self.image.shape[1]), int(self.image.shape[0])


@dataclass(frozen=True, slots=True)
class Detections:
    """Detections of one frame as parallel arrays (supervision's field names).

    Attributes:
        xyxy: ``(N, 4)`` float32 boxes in pixels of the frame they came from.
        confidence: ``(N,)`` float32 scores in 0..1.
        class_id: ``(N,)`` int64 indices into ``names``.
        names: The vocabulary that ``class_id`` indexes (model classes, or after a
            label map, the objects that rules speak of).
        tracker_id: ``(N,)`` int64 track ids, ``-1`` where untracked.

    Example:
        >>> d = Detections.empty(("stall",))
        >>> len(d)
        0
    """

    xyxy: FloatArray
    confidence: FloatArray
    class_id: IntArray
    names: tuple[str, ...]
    tracker_id: IntArray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    def __post_init__(self) -> None:
        n = len(self.xyxy)
        if self.xyxy.shape != (n, 4):
            raise ValueError(f"xyxy must have shape (N, 4), got {self.xyxy.shape}")
        if self.confidence.shape != (n,) or self.class_id.shape != (n,):
            raise ValueError("confidence and class_id must have shape (N,)")
        if len(self.tracker_id) == 0 and n > 0:
            object.__setattr__(self, "tracker_id", np.full(n, -1, dtype=np.int64))
        if self.tracker_id.shape != (n,):
            raise ValueError("tracker_id must have shape (N,)")
        if n and (self.class_id.min() < 0 or self.class_id.max() >= len(self.names)):
            raise ValueError("class_id out of range of names")

    @classmethod
    def empty(cls, names: tuple[str, ...]) -> Detections:
        return cls(
            xyxy=np.empty((0, 4), dtype=np.float32),
            confidence=np.empty(0, dtype=np.float32),
            class_id=np.empty(0, dtype=np.int64),
            names=names,
            tracker_id=np.empty(0, dtype=np.int64),
        )

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: npt.NDArray[np.bool_] | npt.NDArray[np.int64]) -> Detections:
        return Detections(
            xyxy=self.xyxy[index].reshape(-1, 4),
            confidence=self.confidence[index].reshape(-1),
            class_id=self.class_id[index].reshape(-1),
            names=self.names,
            tracker_id=self.tracker_id[index].reshape(-1),
        )

    @property
    def class_name(self) -> list[str]:
        return [self.names[i] for i in self.class_id.tolist()]

    @property
    def bottom_center(self) -> FloatArray:
        """``(N, 2)`` anchor points: the middle of each box's bottom edge, in pixels."""
        x = (self.xyxy[:, 0] + self.xyxy[:, 2]) / 2.0
        return np.stack([x, self.xyxy[:, 3]], axis=1).astype(np.float32)

    def with_tracker_id(self, tracker_id: IntArray) -> Detections:
        return Detections(
            xyxy=self.xyxy,
            confidence=self.confidence,
            class_id=self.class_id,
            names=self.names,
            tracker_id=tracker_id.astype(np.int64),
        )
