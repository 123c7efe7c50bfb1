"""Box geometry and one-to-one association of tracks with detections."""

from __future__ import annotations

import lap  # type: ignore[import-untyped]
import numpy as np
import numpy.typing as npt

from edge.types import FloatArray

F64 = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def _as_boxes(a: FloatArray | F64) -> F64:
    return a.astype(np.float64).reshape(-1, 4)


def box_iou(a: FloatArray | F64, b: FloatArray | F64) -> F64:
    """Pairwise IoU of ``(N, 4)`` and ``(M, 4)`` xyxy boxes, as an ``(N, M)`` array.

    Example:
        >>> box_iou(np.array([[0, 0, 10, 10]]), np.array([[5, 0, 15, 10]])).round(3).tolist()
        [[0.333]]
    """
    a64, b64 = _as_boxes(a), _as_boxes(b)
    lt = np.maximum(a64[:, None, :2], b64[None, :, :2])
    rb = np.minimum(a64[:, None, 2:], b64[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0.0, None), axis=2)
    area_a = np.prod(np.clip(a64[:, 2:] - a64[:, :2], 0.0, None), axis=1)
    area_b = np.prod(np.clip(b64[:, 2:] - b64[:, :2], 0.0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    iou: F64 = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return iou


def centre_distance(a: FloatArray | F64, b: FloatArray | F64) -> F64:
    """``(N, M)`` distance between box centres, as a multiple of each ``a`` box's diagonal."""
    a64, b64 = _as_boxes(a), _as_boxes(b)
    ca = (a64[:, :2] + a64[:, 2:]) / 2.0
    cb = (b64[:, :2] + b64[:, 2:]) / 2.0
    diag = np.hypot(a64[:, 2] - a64[:, 0], a64[:, 3] - a64[:, 1])
    dist = np.linalg.norm(ca[:, None, :] - cb[None, :, :], axis=2)
    rel: F64 = dist / np.maximum(diag, 1e-9)[:, None]
    return rel


def greedy_assignment(score: F64, allowed: BoolArray, *, descending: bool) -> list[tuple[int, int]]:
    """Pick (row, col) pairs best score first, each row and column at most once.

    Ties go to the lower row, then the lower column, so the result is deterministic.

    Args:
        score: ``(N, M)`` scores.
        allowed: ``(N, M)``: which pairs may be picked at all.
        descending: Higher scores are better (IoU); else lower ones (distance).
    """
    rows, cols = np.nonzero(allowed)
    if rows.size == 0:
        return []
    values = score[rows, cols]
    order = np.lexsort((cols, rows, -values if descending else values))
    used_rows: set[int] = set()
    used_cols: set[int] = set()
    pairs: list[tuple[int, int]] = []
    for k in order.tolist():
        r, c = int(rows[k]), int(cols[k])
        if r in used_rows or c in used_cols:
            continue
        used_rows.add(r)
        used_cols.add(c)
        pairs.append((r, c))
    return pairs


def linear_assignment(cost: F64, max_cost: float) -> list[tuple[int, int]]:
    """Minimum-cost one-to-one pairs whose cost is at most ``max_cost`` (``lap.lapjv``).

    Args:
        cost: ``(N, M)`` costs; ``inf`` forbids a pair.
        max_cost: Pairs costing more stay unassigned.

    Returns:
        ``(row, col)`` pairs, sorted by row.
    """
    if cost.size == 0:
        return []
    finite = np.where(np.isfinite(cost), cost, max_cost + 1.0)
    _, x, _ = lap.lapjv(finite, extend_cost=True, cost_limit=max_cost)
    pairs = [(r, int(c)) for r, c in enumerate(x.tolist()) if c >= 0]
    return [(r, c) for r, c in pairs if cost[r, c] <= max_cost]
