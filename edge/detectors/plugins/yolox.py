"""YOLOX ONNX exports without decoding in the graph (e.g. ``yolox_nano.onnx``).

Input: ``(1, 3, H, W)`` BGR, raw 0..255 (no normalisation), letterboxed into the
top-left corner with grey 114.
Output: ``(1, N, 5 + nc)`` rows of ``tx, ty, tw, th, objectness, class scores`` over
the grids of strides 8, 16 and 32 (``N = sum((H / s) * (W / s))``); objectness and
class scores are already sigmoids. ``xy = (t_xy + cell) * stride``,
``wh = exp(t_wh) * stride``, ``score = objectness * class score``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field

from edge.detectors.base import DetectorError, OnnxDetector, Prepared, resolve_class_names
from edge.detectors.grid import GridCells, make_grid
from edge.detectors.nms import Candidates
from edge.detectors.plugin import DetectorPlugin
from edge.detectors.settings import NamedClassesConfigBase
from edge.detectors.transforms import letterbox, to_blob
from edge.types import FloatArray, ImageArray

logger = logging.getLogger(__name__)

_MAX_LOG_WH = 20.0  # exp() beyond this is a broken output, not a box


class YoloxConfig(NamedClassesConfigBase):
    """A YOLOX model exported to ONNX with raw (undecoded) head outputs."""

    type: Literal["yolox"] = Field(
        default="yolox", description="Selects this plugin: YOLOX ONNX export with raw head outputs."
    )
    strides: tuple[int, ...] = Field(
        default=(8, 16, 32),
        min_length=1,
        max_length=5,
        description="Strides of the head's levels, in output order (P6 models add 64).",
    )


def decode_yolox(
    output: FloatArray, grid: GridCells, *, num_classes: int, confidence: float
) -> Candidates:
    """Decode a ``(1, N, 5 + nc)`` YOLOX head output over ``grid`` (``N`` cells).

    Args:
        output: Raw head output; objectness and class scores already in 0..1.
        grid: The cells the rows belong to, see :func:`edge.detectors.grid.make_grid`.
        num_classes: ``nc``.
        confidence: Keep boxes whose ``objectness * best class score`` is at least this.

    Returns:
        Candidates in network pixels, one class per box (the best).

    Raises:
        ValueError: The output shape does not match the grid.
    """
    expected = (1, len(grid), 5 + num_classes)
    if output.shape != expected:
        raise ValueError(f"output has shape {output.shape}, expected {expected}")
    pred = output[0]
    class_scores = pred[:, 5:]
    score = pred[:, 4] * class_scores.max(axis=1)
    keep = np.flatnonzero(score >= confidence)
    if keep.size == 0:
        return Candidates.empty()
    rows = pred[keep]
    stride = grid.stride[keep, None]
    centre = (rows[:, :2] + grid.xy[keep]) * stride
    size = np.exp(np.minimum(rows[:, 2:4], _MAX_LOG_WH)) * stride
    xyxy = np.concatenate([centre - size / 2.0, centre + size / 2.0], axis=1)
    return Candidates(
        xyxy.astype(np.float32),
        score[keep].astype(np.float32),
        rows[:, 5:].argmax(axis=1).astype(np.int64),
    )


class YoloxDetector(OnnxDetector[YoloxConfig]):
    """Runs a YOLOX export; see the module docstring for the format."""

    def __init__(self, config: YoloxConfig) -> None:
        super().__init__(config)
        path = self._onnx.path
        self._input_hw = self._onnx.input_hw()
        self._grid = make_grid(self._input_hw, config.strides)
        if len(self._onnx.outputs) != 1:
            raise DetectorError(
                f"{path}: expected one output (1, N, 5 + classes), the model has "
                f"{len(self._onnx.outputs)}"
            )
        out = self._onnx.outputs[0]
        if len(out.shape) != 3 or out.shape[2] is None or out.shape[2] < 6:
            raise DetectorError(
                f"{path}: output {out.name!r} has shape {out.shape}, expected (1, N, 5 + classes)"
            )
        if out.shape[1] not in (None, len(self._grid)):
            raise DetectorError(
                f"{path}: output {out.name!r} has {out.shape[1]} rows but strides "
                f"{list(config.strides)} on a {self._input_hw[1]}x{self._input_hw[0]} input "
                f"give {len(self._grid)} cells"
            )
        self._names = resolve_class_names(config.names_file, out.shape[2] - 5, path)
        self._warm_up()

    def preprocess(self, image: ImageArray) -> Prepared:
        h, w = self._input_hw
        fitted = letterbox(image, (w, h), center=False)
        return Prepared.of(image, fitted, to_blob(fitted.image, scale=1.0, swap_rb=False))

    def decode(self, outputs: Sequence[npt.NDArray[np.float32]]) -> Candidates:
        return decode_yolox(
            outputs[0], self._grid, num_classes=len(self._names), confidence=self._config.confidence
        )


PLUGIN = DetectorPlugin(type="yolox", config=YoloxConfig, factory=YoloxDetector)
