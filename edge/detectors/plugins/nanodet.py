"""NanoDet (GFL head) ONNX exports with per-level outputs (e.g. ``nanodet_m.onnx``).

Input: ``(1, 3, H, W)`` BGR, stretched to the input size (no letterbox), normalised
with ``(pixel - mean) / std``.
Outputs, one pair per stride level (picked by shape, not by name): class scores
``(1, N_s, nc)`` (already sigmoids) and box distributions ``(1, N_s, 4 * (reg_max + 1))``.
Generalised Focal Loss decoding: a softmax over the ``reg_max + 1`` bins of each side,
its expectation times the stride is the distance from the cell centre
``(x, y) * stride + (stride - 1) / 2`` to the left, top, right and bottom edges.
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
from edge.detectors.transforms import resize, to_blob
from edge.types import FloatArray, ImageArray

logger = logging.getLogger(__name__)


class NanodetConfig(NamedClassesConfigBase):
    """A NanoDet model exported to ONNX with raw per-level head outputs."""

    type: Literal["nanodet"] = Field(
        default="nanodet",
        description="Selects this plugin: NanoDet ONNX export with per-level outputs.",
    )
    strides: tuple[int, ...] = Field(
        default=(8, 16, 32), min_length=1, max_length=5, description="Strides of the levels."
    )
    reg_max: int = Field(
        default=7, ge=1, le=32, description="Largest distance bin; each side has reg_max + 1."
    )
    mean: tuple[float, float, float] = Field(
        default=(103.53, 116.28, 123.675),
        description="Per-channel mean subtracted from the B, G, R pixel values.",
    )
    std: tuple[float, float, float] = Field(
        default=(57.375, 57.12, 58.395),
        description="Per-channel standard deviation the B, G, R values are divided by.",
    )


def decode_nanodet(
    scores: FloatArray,
    distributions: FloatArray,
    grid: GridCells,
    *,
    reg_max: int,
    confidence: float,
) -> Candidates:
    """Decode concatenated NanoDet outputs over ``grid``.

    Args:
        scores: ``(N, nc)`` class scores in 0..1, levels concatenated in ``grid`` order.
        distributions: ``(N, 4 * (reg_max + 1))`` logits of the left, top, right and
            bottom distance bins.
        grid: The cells (``make_grid(..., ceil=True)``).
        reg_max: Largest bin index.
        confidence: Keep boxes whose best class score is at least this.

    Returns:
        Candidates in network pixels.

    Raises:
        ValueError: Shapes disagree with the grid or ``reg_max``.
    """
    bins = reg_max + 1
    n = len(grid)
    if scores.ndim != 2 or scores.shape[0] != n or scores.shape[1] < 1:
        raise ValueError(f"class scores have shape {scores.shape}, expected ({n}, classes)")
    if distributions.shape != (n, 4 * bins):
        raise ValueError(
            f"box distributions have shape {distributions.shape}, expected ({n}, {4 * bins})"
        )
    best = scores.max(axis=1)
    keep = np.flatnonzero(best >= confidence)
    if keep.size == 0:
        return Candidates.empty()
    logits = distributions[keep].reshape(-1, 4, bins).astype(np.float32)
    logits -= logits.max(axis=2, keepdims=True)
    prob = np.exp(logits)
    prob /= prob.sum(axis=2, keepdims=True)
    stride = grid.stride[keep, None]
    distance = (prob @ np.arange(bins, dtype=np.float32)) * stride
    centre = grid.xy[keep] * stride + 0.5 * (stride - 1.0)
    xyxy = np.concatenate([centre - distance[:, :2], centre + distance[:, 2:]], axis=1)
    return Candidates(
        xyxy.astype(np.float32),
        best[keep].astype(np.float32),
        scores[keep].argmax(axis=1).astype(np.int64),
    )


class NanodetDetector(OnnxDetector[NanodetConfig]):
    """Runs a NanoDet export; see the module docstring for the format."""

    def __init__(self, config: NanodetConfig) -> None:
        super().__init__(config)
        path = self._onnx.path
        self._input_hw = self._onnx.input_hw()
        self._grid = make_grid(self._input_hw, config.strides, ceil=True)
        self._cls_index, self._reg_index, num_classes = self._pick_outputs(config)
        self._names = resolve_class_names(config.names_file, num_classes, path)
        self._mean = config.mean
        self._inv_std: FloatArray = (1.0 / np.asarray(config.std, dtype=np.float32)).reshape(
            1, 3, 1, 1
        )
        if not np.all(np.isfinite(self._inv_std)) or np.any(self._inv_std <= 0):
            raise DetectorError(f"{path}: std must be positive, got {config.std}")
        self._warm_up()

    def _pick_outputs(self, config: NanodetConfig) -> tuple[list[int], list[int], int]:
        path = self._onnx.path
        reg_channels = 4 * (config.reg_max + 1)
        shapes = [o.shape for o in self._onnx.outputs]
        if any(len(s) != 3 or None in s for s in shapes):
            raise DetectorError(
                f"{path}: NanoDet outputs must have static shapes (1, N, C), got {shapes}"
            )
        counts = self._grid.counts
        if len(set(counts)) != len(counts):
            raise DetectorError(f"{path}: levels of strides {config.strides} have equal sizes")
        cls_index: list[int] = []
        reg_index: list[int] = []
        for stride, count in zip(config.strides, counts, strict=True):
            level = [i for i, s in enumerate(shapes) if s[1] == count]
            reg = [i for i in level if shapes[i][2] == reg_channels]
            cls = [i for i in level if shapes[i][2] != reg_channels]
            if len(reg) != 1 or len(cls) != 1:
                raise DetectorError(
                    f"{path}: for stride {stride} expected one class-score output (1, {count}, "
                    f"classes) and one box output (1, {count}, {reg_channels}); output shapes "
                    f"are {shapes} (check strides, reg_max and the input size)"
                )
            cls_index.append(cls[0])
            reg_index.append(reg[0])
        classes = {shapes[i][2] for i in cls_index}
        if len(classes) != 1:
            raise DetectorError(
                f"{path}: class-score outputs disagree on the class count: {shapes}"
            )
        unused = set(range(len(shapes))) - set(cls_index) - set(reg_index)
        if unused:
            raise DetectorError(
                f"{path}: outputs {sorted(unused)} fit no level of strides {config.strides}: "
                f"{shapes}"
            )
        return cls_index, reg_index, int(classes.pop() or 0)

    def preprocess(self, image: ImageArray) -> Prepared:
        h, w = self._input_hw
        fitted = resize(image, (w, h))
        tensor = to_blob(fitted.image, mean=self._mean)
        tensor *= self._inv_std
        return Prepared.of(image, fitted, tensor)

    def decode(self, outputs: Sequence[npt.NDArray[np.float32]]) -> Candidates:
        cfg = self._config
        scores = np.concatenate([outputs[i].reshape(-1, len(self._names)) for i in self._cls_index])
        dists = np.concatenate(
            [outputs[i].reshape(-1, 4 * (cfg.reg_max + 1)) for i in self._reg_index]
        )
        return decode_nanodet(
            scores, dists, self._grid, reg_max=cfg.reg_max, confidence=cfg.confidence
        )


PLUGIN = DetectorPlugin(type="nanodet", config=NanodetConfig, factory=NanodetDetector)
