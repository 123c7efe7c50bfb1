"""A small onnxruntime runner for the ultralytics ONNX exports that civicwatch trains.

The edge has its own detector plugins; this runner exists so that evaluation, the int8
comparison and the tests can run a model file with nothing but numpy, OpenCV and onnxruntime.
It reads the class names and input size from the file's metadata.
"""

from __future__ import annotations

import ast
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

ImageArray = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Found:
    """Detections of one image as parallel arrays.

    Attributes:
        xyxy: ``(N, 4)`` float32 boxes in image pixels.
        confidence: ``(N,)`` float32 scores.
        class_id: ``(N,)`` int64 class ids.
    """

    xyxy: npt.NDArray[np.float32]
    confidence: npt.NDArray[np.float32]
    class_id: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.class_id)


class OnnxDetector:
    """Runs an ultralytics detection export (output ``(1, 4 + nc, anchors)``).

    Args:
        path: The ``.onnx`` file (with ``names`` and ``imgsz`` metadata).
        threads: onnxruntime intra-op threads.

    Raises:
        ValueError: If the file lacks the metadata or has an unexpected output shape.
    """

    def __init__(self, path: Path, threads: int = 2) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        meta = self.session.get_modelmeta().custom_metadata_map
        if "names" not in meta or "imgsz" not in meta:
            raise ValueError(f"{path} has no 'names'/'imgsz' metadata: not an ultralytics export")
        names = ast.literal_eval(meta["names"])
        self.names: tuple[str, ...] = tuple(names[i] for i in sorted(names))
        imgsz = ast.literal_eval(meta["imgsz"])
        self.input_hw: tuple[int, int] = (int(imgsz[0]), int(imgsz[1]))
        self.stride = int(meta.get("stride", "32"))
        self.input_name = self.session.get_inputs()[0].name
        shape = self.session.get_outputs()[0].shape
        if len(shape) != 3 or shape[1] != 4 + len(self.names):
            raise ValueError(f"{path}: output shape {shape} is not (1, 4 + {len(self.names)}, N)")

    def __call__(self, image: ImageArray, conf: float = 0.25, iou: float = 0.5) -> Found:
        """Detect objects in a BGR image.

        Args:
            image: BGR ``uint8`` image of any size.
            conf: Minimum class score.
            iou: IoU above which a lower-scored box of the same class is suppressed.
        """
        blob, ratio, (pad_x, pad_y) = _letterbox(image, self.input_hw)
        out = self.session.run(None, {self.input_name: blob})[0][0].T
        scores = out[:, 4:]
        class_id = scores.argmax(axis=1)
        confidence = scores[np.arange(len(scores)), class_id]
        keep = confidence >= conf
        if not keep.any():
            return Found(
                np.empty((0, 4), np.float32), np.empty(0, np.float32), np.empty(0, np.int64)
            )
        xywh = out[keep, :4]
        confidence = confidence[keep]
        class_id = class_id[keep]
        xyxy = np.stack(
            [
                xywh[:, 0] - xywh[:, 2] / 2,
                xywh[:, 1] - xywh[:, 3] / 2,
                xywh[:, 0] + xywh[:, 2] / 2,
                xywh[:, 1] + xywh[:, 3] / 2,
            ],
            axis=1,
        )
        xyxy[:, [0, 2]] = (xyxy[:, [0, 2]] - pad_x) / ratio
        xyxy[:, [1, 3]] = (xyxy[:, [1, 3]] - pad_y) / ratio
        h, w = image.shape[:2]
        xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, w)
        xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, h)
        order = _nms(xyxy, confidence, class_id, iou)
        return Found(
            xyxy[order].astype(np.float32),
            confidence[order].astype(np.float32),
            class_id[order].astype(np.int64),
        )


def _letterbox(
    image: ImageArray,
    hw: tuple[int, int],
) -> tuple[npt.NDArray[np.float32], float, tuple[float, float]]:
    h, w = image.shape[:2]
    ratio = min(hw[0] / h, hw[1] / w)
    nh, nw = round(h * ratio), round(w * ratio)
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    pad_y, pad_x = (hw[0] - nh) / 2, (hw[1] - nw) / 2
    top, left = round(pad_y - 0.1), round(pad_x - 0.1)
    canvas = np.full((hw[0], hw[1], 3), 114, dtype=np.uint8)
    canvas[top : top + nh, left : left + nw] = resized
    blob = canvas[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) / 255.0
    return np.ascontiguousarray(blob), ratio, (float(left), float(top))


def _nms(
    xyxy: npt.NDArray[np.float32],
    score: npt.NDArray[np.float32],
    cls: npt.NDArray[np.int64],
    iou: float,
) -> npt.NDArray[np.int64]:
    offset = cls[:, None].astype(np.float32) * 10_000.0
    boxes = xyxy + offset
    order = np.argsort(-score)
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        xx0 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy0 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx1 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy1 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(xx1 - xx0, 0, None) * np.clip(yy1 - yy0, 0, None)
        area_i = (boxes[i, 2] - boxes[i, 0]) * (boxes[i, 3] - boxes[i, 1])
        area_r = (boxes[rest, 2] - boxes[rest, 0]) * (boxes[rest, 3] - boxes[rest, 1])
        overlap = inter / np.maximum(area_i + area_r - inter, 1e-9)
        order = rest[overlap <= iou]
    return np.asarray(keep, dtype=np.int64)
