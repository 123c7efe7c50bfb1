"""Box geometry and assignment: IoU, centre distance, greedy and optimal pairs."""

from __future__ import annotations

import numpy as np
import pytest

from edge.tracking import box_iou, centre_distance, greedy_assignment, linear_assignment


@pytest.mark.parametrize(
    ("a", "b", "iou"),
    [
        ([0, 0, 10, 10], [0, 0, 10, 10], 1.0),
        ([0, 0, 10, 10], [5, 0, 15, 10], 50 / 150),
        ([0, 0, 10, 10], [20, 20, 30, 30], 0.0),
        ([0, 0, 10, 10], [10, 0, 20, 10], 0.0),
        ([0, 0, 0, 0], [0, 0, 0, 0], 0.0),
    ],
)
def test_box_iou(a: list[float], b: list[float], iou: float) -> None:
    got = box_iou(np.array([a], dtype=np.float32), np.array([b], dtype=np.float32))
    assert got.shape == (1, 1)
    assert got[0, 0] == pytest.approx(iou)


def test_box_iou_empty() -> None:
    assert box_iou(np.empty((0, 4), np.float32), np.zeros((3, 4), np.float32)).shape == (0, 3)


def test_linear_assignment_is_optimal_and_respects_the_limit() -> None:
    cost = np.array([[0.1, 0.2], [0.15, 0.9]])
    # greedy would take (0, 0) then (1, 1) = 1.0; the optimum is (0, 1) + (1, 0) = 0.35
    assert linear_assignment(cost, 1.0) == [(0, 1), (1, 0)]
    assert linear_assignment(cost, 0.5) == [(0, 1), (1, 0)]
    assert linear_assignment(np.array([[0.8, np.inf]]), 0.5) == []
    assert linear_assignment(np.zeros((0, 3)), 0.5) == []


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([0, 0, 30, 40], [0, 0, 30, 40], 0.0),
        ([0, 0, 30, 40], [30, 40, 60, 80], 1.0),  # moved by one diagonal (50 px)
        ([0, 0, 30, 40], [15, 0, 45, 40], 0.3),
        ([0, 0, 0, 0], [1, 0, 1, 0], 1e9),  # a point box: distance over the 1e-9 floor
    ],
)
def test_centre_distance(a: list[float], b: list[float], expected: float) -> None:
    got = centre_distance(np.array([a], dtype=np.float32), np.array([b], dtype=np.float32))
    assert got.shape == (1, 1)
    assert got[0, 0] == pytest.approx(expected)


def test_centre_distance_empty() -> None:
    assert centre_distance(np.empty((0, 4)), np.zeros((2, 4))).shape == (0, 2)


@pytest.mark.parametrize(
    ("score", "allowed", "descending", "pairs"),
    [
        ([[0.9, 0.8], [0.85, 0.1]], [[True, True], [True, True]], True, [(0, 0), (1, 1)]),
        ([[0.9, 0.8], [0.85, 0.1]], [[True, True], [True, True]], False, [(1, 1), (0, 0)]),
        ([[0.9, 0.8], [0.85, 0.1]], [[False, True], [True, False]], True, [(1, 0), (0, 1)]),
        ([[0.5, 0.5], [0.5, 0.5]], [[True, True], [True, True]], True, [(0, 0), (1, 1)]),
        ([[0.5]], [[False]], True, []),
        (np.zeros((0, 2)), np.zeros((0, 2), dtype=bool), True, []),
    ],
    ids=["best first", "lowest first", "only allowed", "ties by index", "none allowed", "empty"],
)
def test_greedy_assignment(
    score: list[list[float]],
    allowed: list[list[bool]],
    descending: bool,
    pairs: list[tuple[int, int]],
) -> None:
    got = greedy_assignment(
        np.asarray(score, dtype=np.float64), np.asarray(allowed, dtype=bool), descending=descending
    )
    assert got == pairs
