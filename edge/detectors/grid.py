"""Grid cells of anchor-free heads (YOLOX, NanoDet): one row per cell, strides in order."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edge.types import FloatArray


@dataclass(frozen=True, slots=True)
class GridCells:
    """Cells of all strides, flattened row-major per stride, strides in the given order.

    Attributes:
        xy: ``(N, 2)`` float32 cell column and row.
        stride: ``(N,)`` float32 stride of each cell's level, in input pixels.
        counts: Cells per stride level.
    """

    xy: FloatArray
    stride: FloatArray
    counts: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.xy)


def make_grid(
    input_hw: tuple[int, int], strides: Sequence[int], *, ceil: bool = False
) -> GridCells:
    """Cells for an ``(height, width)`` input at each stride.

    Args:
        input_hw: Network input ``(height, width)``.
        strides: Level strides in output order, e.g. ``(8, 16, 32)``.
        ceil: Round a partial cell up (NanoDet) rather than down (YOLOX).

    Example:
        >>> g = make_grid((64, 32), (16, 32))
        >>> g.counts, g.xy[:3].tolist()
        ((8, 2), [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    """
    xy_parts: list[FloatArray] = []
    stride_parts: list[FloatArray] = []
    counts: list[int] = []
    h, w = input_hw
    for s in strides:
        if s <= 0:
            raise ValueError(f"strides must be positive, got {list(strides)}")
        gh, gw = (math.ceil(h / s), math.ceil(w / s)) if ceil else (h // s, w // s)
        xs, ys = np.meshgrid(np.arange(gw, dtype=np.float32), np.arange(gh, dtype=np.float32))
        xy_parts.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
        stride_parts.append(np.full(gh * gw, float(s), dtype=np.float32))
        counts.append(gh * gw)
    if not counts:
        return GridCells(np.empty((0, 2), np.float32), np.empty(0, np.float32), ())
    return GridCells(
        xy=np.concatenate(xy_parts).astype(np.float32),
        stride=np.concatenate(stride_parts).astype(np.float32),
        counts=tuple(counts),
    )
