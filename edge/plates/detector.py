"""The 4-corner Chinese plate detector: letterbox, decode, NMS, corners back to the image.

The model (``plate_detect.onnx``, a YOLOv5 variant) takes one 640x640 RGB image in 0..1,
letterboxed centred with grey 114, and gives ``(1, 25200, 15)`` rows: box centre and size,
objectness, the plate's four corners (8 values: top-left, top-right, bottom-right,
bottom-left as trained) and two class scores (single-row, double-row plate), all in network
pixels and already through a sigmoid. A plate's score is class times objectness.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.detectors.nms import class_aware_nms
from edge.detectors.transforms import ImageTransform, letterbox, to_blob
from edge.plates.session import check_io, open_session
from edge.plates.settings import PlateModelFile
from edge.types import FloatArray, ImageArray

INPUT_SIZE = 640
"""Square network input, pixels."""
ROW_WIDTH = 15
"""Values per output row: 4 box, 1 objectness, 8 corners, 2 classes."""
MAX_PLATES = 10
"""At most this many plates per image."""


def order_corners(points: npt.ArrayLike) -> FloatArray:
    """Four points as top-left, top-right, bottom-right, bottom-left (clockwise on screen).

    The points are sorted by their angle around their centre, then turned so that the one
    nearest the image's top-left corner (smallest ``x + y``) comes first; this holds for a
    plate tilted either way, which the sum / difference rule does not.

    Args:
        points: ``(4, 2)`` pixel points in any order.

    Returns:
        ``(4, 2)`` float32 points.

    Raises:
        ValueError: If there are not four finite points.

    Example:
        >>> order_corners([[10, 5], [0, 0], [0, 5], [10, 0]]).tolist()
        [[0.0, 0.0], [10.0, 0.0], [10.0, 5.0], [0.0, 5.0]]
    """
    pts = np.asarray(points, dtype=np.float32)
    if pts.shape != (4, 2) or not np.isfinite(pts).all():
        raise ValueError(f"expected four finite (x, y) points, got shape {pts.shape}")
    centre = pts.mean(axis=0)
    angles = np.arctan2(pts[:, 1] - centre[1], pts[:, 0] - centre[0])
    clockwise = pts[np.argsort(angles, kind="stable")]  # y points down: ascending is clockwise
    first = int(np.argmin(clockwise.sum(axis=1)))
    ordered: FloatArray = np.roll(clockwise, -first, axis=0).astype(np.float32)
    return ordered


@dataclass(frozen=True, slots=True, eq=False)
class PlateDetection:
    """One plate found in an image.

    Attributes:
        corners: ``(4, 2)`` float32 corners in image pixels: top-left, top-right,
            bottom-right, bottom-left.
        xyxy: ``(4,)`` float32 box in image pixels.
        score: Class score times objectness, 0..1.
        double_row: Whether it is a double-row plate (large vehicles' rear plates).
    """

    corners: FloatArray
    xyxy: FloatArray
    score: float
    double_row: bool

    def __post_init__(self) -> None:
        if self.corners.shape != (4, 2) or self.xyxy.shape != (4,):
            raise ValueError(
                f"corners must be (4, 2) and xyxy (4,), got {self.corners.shape}, {self.xyxy.shape}"
            )

    def shifted(self, dx: float, dy: float) -> PlateDetection:
        """The same plate with its points moved by ``(dx, dy)`` (from a crop to its image)."""
        offset = np.array([dx, dy], dtype=np.float32)
        return PlateDetection(
            corners=(self.corners + offset).astype(np.float32),
            xyxy=(self.xyxy + np.tile(offset, 2)).astype(np.float32),
            score=self.score,
            double_row=self.double_row,
        )


def decode(
    rows: FloatArray,
    transform: ImageTransform,
    image_wh: tuple[int, int],
    *,
    min_score: float,
    iou: float,
) -> list[PlateDetection]:
    """Plates from the model's raw rows, best first, in image pixels.

    Args:
        rows: ``(N, 15)`` output rows in network pixels.
        transform: How the image was letterboxed into the network input.
        image_wh: The image's ``(width, height)``, for clipping.
        min_score: Least class-times-objectness score.
        iou: NMS overlap threshold (across both classes: one plate is one or the other).

    Raises:
        ValueError: If the rows are not ``(N, 15)``.
    """
    if rows.ndim != 2 or rows.shape[1] != ROW_WIDTH:
        raise ValueError(f"plate detector rows must be (N, {ROW_WIDTH}), got {rows.shape}")
    cls = rows[:, 13:15] * rows[:, 4:5]
    score = cls.max(axis=1)
    keep = np.flatnonzero(score >= min_score)
    if len(keep) == 0:
        return []
    rows, score, class_id = rows[keep], score[keep], cls[keep].argmax(axis=1).astype(np.int64)
    half = rows[:, 2:4] / 2.0
    xyxy = np.concatenate([rows[:, :2] - half, rows[:, :2] + half], axis=1).astype(np.float32)
    chosen = class_aware_nms(
        xyxy,
        score.astype(np.float32),
        np.zeros(len(xyxy), dtype=np.int64),
        iou_threshold=iou,
        max_detections=MAX_PLATES,
    )
    w, h = image_wh
    limit = np.array([w, h, w, h], dtype=np.float32)
    boxes = np.clip(transform.to_image(xyxy[chosen]), 0.0, limit)
    corners = transform.to_image(rows[chosen, 5:13].reshape(-1, 4)).reshape(-1, 4, 2)
    return [
        PlateDetection(
            corners=order_corners(corners[k]),
            xyxy=boxes[k],
            score=float(score[i]),
            double_row=bool(class_id[i] == 1),
        )
        for k, i in enumerate(chosen.tolist())
        if boxes[k, 2] > boxes[k, 0] and boxes[k, 3] > boxes[k, 1]
    ]


class PlateDetector:
    """``plate_detect.onnx`` run with onnxruntime on CPU.

    Args:
        model: The file and its SHA-256 (checked before loading).
        min_score: Least plate score.
        iou: NMS overlap threshold.
        threads: Intra-op threads.

    Raises:
        PlateModelError: If the file is missing, its SHA-256 differs, or its input or
            output is not the plate detector's.
    """

    def __init__(
        self, model: PlateModelFile, *, min_score: float = 0.3, iou: float = 0.5, threads: int = 1
    ) -> None:
        self.session = open_session(model, "plate detector", threads=threads)
        self._input = check_io(
            self.session,
            model.path,
            "plate detector",
            input_shape=(1, 3, INPUT_SIZE, INPUT_SIZE),
            outputs=1,
        )
        self.min_score = min_score
        self.iou = iou

    def detect(self, image: ImageArray) -> list[PlateDetection]:
        """Plates in a BGR image, best score first, in its pixels."""
        fitted = letterbox(image, (INPUT_SIZE, INPUT_SIZE))
        blob = to_blob(fitted.image, scale=1.0 / 255.0, swap_rb=True)
        (out,) = self.session.run(None, {self._input: blob})
        rows = np.asarray(out, dtype=np.float32).reshape(-1, ROW_WIDTH)
        wh = (int(image.shape[1]), int(image.shape[0]))
        return decode(rows, fitted.transform, wh, min_score=self.min_score, iou=self.iou)
