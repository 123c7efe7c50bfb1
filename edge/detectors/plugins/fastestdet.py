"""FastestDet ONNX exports (e.g. ``FastestDet.onnx``): one single-scale output map.

Input: ``(1, 3, H, W)`` BGR, stretched to the input size, divided by 255.
Output: ``(1, 5 + nc, GH, GW)``: per cell ``objectness, tx, ty, w, h`` and the class
scores (objectness and class scores already activated). ``cx = (col + tanh(tx)) / GW``,
``cy = (row + tanh(ty)) / GH``, ``w = sigmoid(w)``, ``h = sigmoid(h)`` as fractions of
the input, and ``score = objectness ** 0.6 * class score ** 0.4``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field

from edge.detectors.base import DetectorError, OnnxDetector, Prepared, resolve_class_names
from edge.detectors.nms import Candidates
from edge.detectors.plugin import DetectorPlugin
from edge.detectors.settings import NamedClassesConfigBase
from edge.detectors.transforms import resize, to_blob
from edge.types import FloatArray, ImageArray

logger = logging.getLogger(__name__)


class FastestDetConfig(NamedClassesConfigBase):
    """A FastestDet model exported to ONNX."""

    type: Literal["fastestdet"] = Field(
        default="fastestdet", description="Selects this plugin: FastestDet ONNX export."
    )


def decode_fastestdet(
    output: FloatArray, *, input_wh: tuple[int, int], num_classes: int, confidence: float
) -> Candidates:
    """Decode a ``(1, 5 + nc, GH, GW)`` FastestDet output map.

    Args:
        output: The raw map.
        input_wh: Network input ``(width, height)``; boxes come out in its pixels.
        num_classes: ``nc``.
        confidence: Keep boxes whose combined score is at least this.

    Raises:
        ValueError: The output does not have the shape ``(1, 5 + nc, GH, GW)``.
    """
    if output.ndim != 4 or output.shape[0] != 1 or output.shape[1] != 5 + num_classes:
        raise ValueError(
            f"output has shape {output.shape}, expected (1, {5 + num_classes}, rows, columns)"
        )
    grid_h, grid_w = output.shape[2], output.shape[3]
    cells = output[0].reshape(5 + num_classes, -1).T  # (GH * GW, 5 + nc), row-major
    class_scores = cells[:, 5:]
    best = class_scores.max(axis=1)
    score = np.power(np.clip(cells[:, 0], 0.0, None), 0.6) * np.power(np.clip(best, 0.0, None), 0.4)
    keep = np.flatnonzero(score >= confidence)
    if keep.size == 0:
        return Candidates.empty()
    rows = cells[keep]
    col = (keep % grid_w).astype(np.float32)
    row = (keep // grid_w).astype(np.float32)
    cx = (col + np.tanh(rows[:, 1])) / grid_w
    cy = (row + np.tanh(rows[:, 2])) / grid_h
    w = 1.0 / (1.0 + np.exp(-rows[:, 3]))
    h = 1.0 / (1.0 + np.exp(-rows[:, 4]))
    in_w, in_h = input_wh
    xyxy = np.stack(
        [(cx - w / 2) * in_w, (cy - h / 2) * in_h, (cx + w / 2) * in_w, (cy + h / 2) * in_h],
        axis=1,
    )
    return Candidates(
        xyxy.astype(np.float32),
        score[keep].astype(np.float32),
        class_scores[keep].argmax(axis=1).astype(np.int64),
    )


class FastestDetDetector(OnnxDetector[FastestDetConfig]):
    """Runs a FastestDet export; see the module docstring for the format."""

    def __init__(self, config: FastestDetConfig) -> None:
        super().__init__(config)
        path = self._onnx.path
        self._input_hw = self._onnx.input_hw()
        if len(self._onnx.outputs) != 1:
            raise DetectorError(
                f"{path}: expected one output (1, 5 + classes, rows, columns), the model has "
                f"{len(self._onnx.outputs)}"
            )
        out = self._onnx.outputs[0]
        if len(out.shape) != 4 or out.shape[1] is None or out.shape[1] < 6:
            raise DetectorError(
                f"{path}: output {out.name!r} has shape {out.shape}, "
                "expected (1, 5 + classes, rows, columns)"
            )
        self._names = resolve_class_names(config.names_file, out.shape[1] - 5, path)
        self._warm_up()

    def preprocess(self, image: ImageArray) -> Prepared:
        h, w = self._input_hw
        fitted = resize(image, (w, h))
        return Prepared.of(image, fitted, to_blob(fitted.image, scale=1.0 / 255.0, swap_rb=False))

    def decode(self, outputs: Sequence[npt.NDArray[np.float32]]) -> Candidates:
        h, w = self._input_hw
        return decode_fastestdet(
            outputs[0],
            input_wh=(w, h),
            num_classes=len(self._names),
            confidence=self._config.confidence,
        )


PLUGIN = DetectorPlugin(type="fastestdet", config=FastestDetConfig, factory=FastestDetDetector)
