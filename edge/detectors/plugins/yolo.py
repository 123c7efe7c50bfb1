"""Ultralytics YOLOv8 / YOLO11 ONNX exports (and NMS-free end-to-end exports).

The file describes itself: ultralytics writes ``names`` (a Python dict literal),
``imgsz`` and ``stride`` into the ONNX metadata, so the config needs only the path.

Input: ``(1, 3, H, W)`` RGB in 0..1, letterboxed centred with grey 114.
Output: ``(1, 4 + nc, N)`` rows of ``cx, cy, w, h`` in input pixels followed by one
score per class; or, for end-to-end exports (metadata ``end2end: True`` or exported
with ``nms=True``), ``(1, K, 6)`` rows of ``x1, y1, x2, y2, score, class``.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field

from edge.detectors.base import DetectorError, OnnxDetector, Prepared
from edge.detectors.nms import Candidates
from edge.detectors.plugin import DetectorPlugin
from edge.detectors.settings import DetectorConfigBase
from edge.detectors.transforms import letterbox, to_blob
from edge.types import FloatArray, ImageArray

logger = logging.getLogger(__name__)


class YoloConfig(DetectorConfigBase):
    """An ultralytics YOLOv8 / YOLO11 detection model exported to ONNX."""

    type: Literal["yolo"] = Field(
        default="yolo", description="Selects this plugin: ultralytics YOLOv8 / YOLO11 ONNX export."
    )


@dataclass(frozen=True, slots=True)
class UltralyticsMetadata:
    """What the edge reads from an ultralytics export's metadata.

    Attributes:
        names: Class names, index = class id.
        imgsz_hw: Export input size ``(height, width)``.
        stride: The largest stride of the model.
        end2end: Output is ``(1, K, 6)`` with NMS already applied.
    """

    names: tuple[str, ...]
    imgsz_hw: tuple[int, int]
    stride: int
    end2end: bool


def _literal(metadata: Mapping[str, str], key: str, path: Path) -> object:
    if key not in metadata:
        raise DetectorError(
            f"{path}: ONNX metadata has no {key!r} (keys: {sorted(metadata)}); "
            "is this an ultralytics export?"
        )
    try:
        return ast.literal_eval(metadata[key])
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        raise DetectorError(
            f"{path}: ONNX metadata {key!r} is not a Python literal: {metadata[key][:200]!r}"
        ) from exc


def parse_ultralytics_metadata(metadata: Mapping[str, str], path: Path) -> UltralyticsMetadata:
    """Read ``names``, ``imgsz``, ``stride`` (and ``task``, ``end2end``) safely.

    Values are parsed with :func:`ast.literal_eval`, never ``eval``.

    Raises:
        DetectorError: A key is missing or malformed, or the model is not a detector.

    Example:
        >>> meta = {"names": "{0: 'stall', 1: 'person'}", "imgsz": "[320, 416]", "stride": "32"}
        >>> parse_ultralytics_metadata(meta, Path("m.onnx")).imgsz_hw
        (320, 416)
    """
    task = metadata.get("task", "detect")
    if task != "detect":
        raise DetectorError(f"{path}: ultralytics task is {task!r}; only 'detect' is supported")

    raw_names = _literal(metadata, "names", path)
    if isinstance(raw_names, dict):
        if not all(isinstance(k, int) for k in raw_names) or sorted(raw_names) != list(
            range(len(raw_names))
        ):
            raise DetectorError(
                f"{path}: ONNX metadata 'names' keys must be the class ids 0..n-1, "
                f"got {sorted(raw_names, key=str)[:10]}"
            )
        names_list = [raw_names[i] for i in range(len(raw_names))]
    elif isinstance(raw_names, list | tuple):
        names_list = list(raw_names)
    else:
        raise DetectorError(
            f"{path}: ONNX metadata 'names' must be a dict or list, got {type(raw_names).__name__}"
        )
    if not names_list or not all(isinstance(n, str) and n for n in names_list):
        raise DetectorError(f"{path}: ONNX metadata 'names' must be non-empty strings")

    raw_imgsz = _literal(metadata, "imgsz", path)
    if isinstance(raw_imgsz, int):
        imgsz_hw = (raw_imgsz, raw_imgsz)
    elif (
        isinstance(raw_imgsz, list | tuple)
        and len(raw_imgsz) == 2
        and all(isinstance(v, int) for v in raw_imgsz)
    ):
        imgsz_hw = (int(raw_imgsz[0]), int(raw_imgsz[1]))
    else:
        raise DetectorError(f"{path}: ONNX metadata 'imgsz' must be [h, w], got {raw_imgsz!r}")
    if min(imgsz_hw) <= 0:
        raise DetectorError(f"{path}: ONNX metadata 'imgsz' must be positive, got {imgsz_hw}")

    raw_stride = _literal(metadata, "stride", path)
    if not isinstance(raw_stride, int) or raw_stride <= 0:
        raise DetectorError(
            f"{path}: ONNX metadata 'stride' must be a positive int, got {raw_stride!r}"
        )

    end2end = False
    if "end2end" in metadata:
        end2end = _literal(metadata, "end2end", path) is True
    if not end2end and "args" in metadata:
        args = _literal(metadata, "args", path)
        end2end = isinstance(args, dict) and args.get("nms") is True
    return UltralyticsMetadata(tuple(names_list), imgsz_hw, raw_stride, end2end)


def decode_yolo(output: FloatArray, *, num_classes: int, confidence: float) -> Candidates:
    """Decode a ``(1, 4 + nc, N)`` ultralytics head output (one class per box: the best).

    Args:
        output: Rows ``cx, cy, w, h, score_0 .. score_nc-1``, along axis 1.
        num_classes: ``nc``.
        confidence: Keep boxes whose best class score is at least this.

    Returns:
        Candidates in network pixels.

    Raises:
        ValueError: The output does not have the shape ``(1, 4 + nc, N)``.
    """
    if output.ndim != 3 or output.shape[0] != 1 or output.shape[1] != 4 + num_classes:
        raise ValueError(
            f"output has shape {output.shape}, expected (1, {4 + num_classes}, N) "
            f"for {num_classes} classes"
        )
    pred = output[0]
    scores = pred[4:]
    best = scores.max(axis=0)
    keep = np.flatnonzero(best >= confidence)
    if keep.size == 0:
        return Candidates.empty()
    class_id = scores[:, keep].argmax(axis=0).astype(np.int64)
    cxcywh = pred[:4, keep].T.astype(np.float32)
    half = cxcywh[:, 2:] / 2.0
    xyxy = np.concatenate([cxcywh[:, :2] - half, cxcywh[:, :2] + half], axis=1)
    return Candidates(xyxy.astype(np.float32), best[keep].astype(np.float32), class_id)


def decode_yolo_end2end(output: FloatArray, *, num_classes: int, confidence: float) -> Candidates:
    """Decode a ``(1, K, 6)`` end-to-end output: ``x1, y1, x2, y2, score, class``.

    Raises:
        ValueError: Wrong shape, or a class id outside ``0..nc-1``.
    """
    if output.ndim != 3 or output.shape[0] != 1 or output.shape[2] != 6:
        raise ValueError(f"output has shape {output.shape}, expected (1, K, 6)")
    pred = output[0]
    rows = pred[pred[:, 4] >= confidence]
    class_id = np.rint(rows[:, 5]).astype(np.int64)
    if class_id.size and (class_id.min() < 0 or class_id.max() >= num_classes):
        raise ValueError(f"class id out of range 0..{num_classes - 1}: {sorted(set(class_id))}")
    return Candidates(rows[:, :4].astype(np.float32), rows[:, 4].astype(np.float32), class_id)


class YoloDetector(OnnxDetector[YoloConfig]):
    """Runs an ultralytics detection export; see the module docstring for the format."""

    def __init__(self, config: YoloConfig) -> None:
        super().__init__(config)
        path = self._onnx.path
        meta = parse_ultralytics_metadata(self._onnx.metadata, path)
        self._meta = meta
        self._needs_nms = not meta.end2end
        self._names = meta.names
        self._input_hw = self._onnx.input_hw(default=meta.imgsz_hw)
        if self._input_hw != meta.imgsz_hw:
            raise DetectorError(
                f"{path}: input is {self._input_hw} (h, w) but metadata 'imgsz' says "
                f"{meta.imgsz_hw}"
            )
        if len(self._onnx.outputs) != 1:
            raise DetectorError(
                f"{path}: expected one output, the model has {len(self._onnx.outputs)} "
                f"({[o.name for o in self._onnx.outputs]}); only detection exports are supported"
            )
        shape = self._onnx.outputs[0].shape
        nc = len(meta.names)
        if meta.end2end:
            ok = len(shape) == 3 and shape[2] in (6, None)
            expected = "(1, K, 6)"
        else:
            ok = len(shape) == 3 and shape[1] in (4 + nc, None)
            expected = f"(1, {4 + nc}, N)"
        if not ok:
            raise DetectorError(
                f"{path}: output {self._onnx.outputs[0].name!r} has shape {shape}, expected "
                f"{expected} for {nc} classes"
            )
        self._warm_up()

    def preprocess(self, image: ImageArray) -> Prepared:
        h, w = self._input_hw
        fitted = letterbox(image, (w, h), center=True)
        return Prepared.of(image, fitted, to_blob(fitted.image, scale=1.0 / 255.0, swap_rb=True))

    def decode(self, outputs: Sequence[npt.NDArray[np.float32]]) -> Candidates:
        nc, confidence = len(self._names), self._config.confidence
        if self._meta.end2end:
            return decode_yolo_end2end(outputs[0], num_classes=nc, confidence=confidence)
        return decode_yolo(outputs[0], num_classes=nc, confidence=confidence)


PLUGIN = DetectorPlugin(type="yolo", config=YoloConfig, factory=YoloDetector)
