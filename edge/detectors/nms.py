"""Candidates from a decoder, class-aware NMS, and the step back to image pixels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from edge.detectors.transforms import ImageTransform
from edge.types import Detections, FloatArray, IntArray


@dataclass(frozen=True, slots=True)
class Candidates:
    """Decoded boxes before NMS, in network pixels.

    Attributes:
        xyxy: ``(N, 4)`` float32 corners.
        score: ``(N,)`` float32 scores.
        class_id: ``(N,)`` int64 class indices.
    """

    xyxy: FloatArray
    score: FloatArray
    class_id: IntArray

    def __post_init__(self) -> None:
        n = len(self.xyxy)
        if self.xyxy.shape != (n, 4) or self.score.shape != (n,) or self.class_id.shape != (n,):
            raise ValueError(
                f"candidate arrays disagree: xyxy {self.xyxy.shape}, score "
                f"{self.score.shape}, class_id {self.class_id.shape}"
            )

    @classmethod
    def empty(cls) -> Candidates:
        return cls(
            xyxy=np.empty((0, 4), dtype=np.float32),
            score=np.empty(0, dtype=np.float32),
            class_id=np.empty(0, dtype=np.int64),
        )

    def __len__(self) -> int:
        return len(self.xyxy)

    def select(self, index: IntArray) -> Candidates:
        return Candidates(self.xyxy[index], self.score[index], self.class_id[index])


def class_aware_nms(
    xyxy: FloatArray,
    score: FloatArray,
    class_id: IntArray,
    *,
    iou_threshold: float,
    max_detections: int,
) -> IntArray:
    """Non-maximum suppression within each class (``cv2.dnn.NMSBoxesBatched``).

    Args:
        xyxy: ``(N, 4)`` boxes.
        score: ``(N,)`` scores.
        class_id: ``(N,)`` classes; boxes of different classes never suppress each other.
        iou_threshold: A box overlapping a better box of its class by more than this
            (intersection over union) is dropped.
        max_detections: Keep at most this many, the best first.

    Returns:
        Indices of the kept boxes, best score first.

    Example:
        >>> import numpy as np
        >>> boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [1, 1, 10, 10]], np.float32)
        >>> class_aware_nms(boxes, np.array([0.9, 0.8, 0.7], np.float32),
        ...                 np.array([0, 0, 1]), iou_threshold=0.5, max_detections=10)
        array([0, 2])
    """
    if len(xyxy) == 0:
        return np.empty(0, dtype=np.int64)
    xywh = np.empty((len(xyxy), 4), dtype=np.float64)
    xywh[:, :2] = xyxy[:, :2]
    xywh[:, 2:] = xyxy[:, 2:] - xyxy[:, :2]
    nms_batched: Any = cv2.dnn.NMSBoxesBatched  # its stubs want lists; arrays are faster
    kept = nms_batched(
        xywh,
        score.astype(np.float32),
        class_id.astype(np.int32),
        -1.0,  # scores were thresholded by the decoder; keep every candidate here
        float(iou_threshold),
    )
    index = np.asarray(kept, dtype=np.int64).reshape(-1)
    order = np.argsort(-score[index], kind="stable")
    return index[order][:max_detections]


def to_detections(
    candidates: Candidates,
    *,
    transform: ImageTransform,
    image_wh: tuple[int, int],
    names: tuple[str, ...],
    iou_threshold: float,
    max_detections: int,
    nms: bool = True,
) -> Detections:
    """NMS, then map to image pixels, clip to the image and drop boxes left empty.

    Args:
        candidates: Decoded boxes in network pixels.
        transform: How the image was fitted to the network.
        image_wh: The original image's ``(width, height)``.
        names: The model's class names.
        iou_threshold: See :func:`class_aware_nms`.
        max_detections: Keep at most this many.
        nms: Run NMS (models with NMS built in skip it).
    """
    if len(candidates) == 0:
        return Detections.empty(names)
    if nms:
        keep = class_aware_nms(
            candidates.xyxy,
            candidates.score,
            candidates.class_id,
            iou_threshold=iou_threshold,
            max_detections=len(candidates),
        )
    else:
        keep = np.argsort(-candidates.score, kind="stable")
    chosen = candidates.select(keep)
    xyxy = transform.to_image(chosen.xyxy)
    w, h = image_wh
    np.clip(xyxy[:, 0::2], 0.0, float(w), out=xyxy[:, 0::2])
    np.clip(xyxy[:, 1::2], 0.0, float(h), out=xyxy[:, 1::2])
    # Boxes entirely in the padding or off the image are gone; the limit counts the rest.
    visible = np.flatnonzero((xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1]))
    visible = visible[:max_detections]
    return Detections(
        xyxy=np.ascontiguousarray(xyxy[visible], dtype=np.float32),
        confidence=chosen.score[visible].astype(np.float32),
        class_id=chosen.class_id[visible].astype(np.int64),
        names=names,
    )
