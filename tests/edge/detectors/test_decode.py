"""Decoders on synthetic head outputs with known answers (no model, no I/O)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edge.detectors.grid import make_grid
from edge.detectors.plugins.fastestdet import decode_fastestdet
from edge.detectors.plugins.nanodet import decode_nanodet
from edge.detectors.plugins.yolo import decode_yolo, decode_yolo_end2end
from edge.detectors.plugins.yolox import decode_yolox


def _yolo_output(columns: list[list[float]], nc: int = 2) -> np.ndarray:
    """Columns of ``cx, cy, w, h, score_0 .. score_nc-1`` -> ``(1, 4 + nc, N)``."""
    return np.array(columns, dtype=np.float32).reshape(-1, 4 + nc).T[None]


# --- ultralytics ------------------------------------------------------------------


def test_decode_yolo_known_answer() -> None:
    output = _yolo_output(
        [
            [50, 40, 20, 10, 0.1, 0.8],  # person 0.8
            [10, 10, 4, 4, 0.3, 0.2],  # stall 0.3
            [70, 70, 8, 8, 0.2, 0.1],  # below threshold
            [30, 30, 2, 6, 0.25, 0.0],  # exactly at the threshold: kept
        ]
    )
    c = decode_yolo(output, num_classes=2, confidence=0.25)
    np.testing.assert_allclose(c.xyxy, [[40, 35, 60, 45], [8, 8, 12, 12], [29, 27, 31, 33]])
    assert c.score.tolist() == pytest.approx([0.8, 0.3, 0.25])
    assert c.class_id.tolist() == [1, 0, 0]
    assert c.xyxy.dtype == np.float32 and c.class_id.dtype == np.int64


@pytest.mark.parametrize(
    "output",
    [
        np.zeros((1, 6, 0), np.float32),  # no anchors at all
        _yolo_output([[5, 5, 2, 2, 0.1, 0.2]]),  # everything below threshold
    ],
    ids=["no anchors", "nothing above threshold"],
)
def test_decode_yolo_empty(output: np.ndarray) -> None:
    assert len(decode_yolo(output, num_classes=2, confidence=0.25)) == 0


@pytest.mark.parametrize(
    "shape",
    [(1, 5, 4), (1, 7, 4), (6, 4), (2, 6, 4), (1, 4, 6, 1)],
    ids=["too few rows", "too many rows", "no batch", "batch of two", "rank 4"],
)
def test_decode_yolo_refuses_wrong_shape(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="expected \\(1, 6, N\\)"):
        decode_yolo(np.zeros(shape, np.float32), num_classes=2, confidence=0.25)


def test_decode_yolo_end2end_known_answer() -> None:
    output = np.array(
        [[[1, 2, 3, 4, 0.9, 1], [5, 6, 7, 8, 0.1, 0], [9, 9, 12, 12, 0.5, 0]]],
        dtype=np.float32,
    )
    c = decode_yolo_end2end(output, num_classes=2, confidence=0.25)
    np.testing.assert_allclose(c.xyxy, [[1, 2, 3, 4], [9, 9, 12, 12]])
    assert c.class_id.tolist() == [1, 0]


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (np.zeros((1, 3, 7), np.float32), "expected \\(1, K, 6\\)"),
        (np.array([[[0, 0, 1, 1, 0.9, 5]]], np.float32), "class id out of range"),
        (np.array([[[0, 0, 1, 1, 0.9, -1]]], np.float32), "class id out of range"),
    ],
    ids=["wrong width", "class too high", "negative class"],
)
def test_decode_yolo_end2end_refuses_malformed(output: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode_yolo_end2end(output, num_classes=2, confidence=0.25)


# --- grids ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("input_hw", "strides", "ceil", "counts"),
    [
        ((416, 416), (8, 16, 32), False, (2704, 676, 169)),
        ((64, 32), (16, 32), False, (8, 2)),
        ((70, 50), (32,), False, (2,)),
        ((70, 50), (32,), True, (6,)),
        ((416, 416), (), False, ()),
    ],
)
def test_make_grid_counts(
    input_hw: tuple[int, int], strides: tuple[int, ...], ceil: bool, counts: tuple[int, ...]
) -> None:
    grid = make_grid(input_hw, strides, ceil=ceil)
    assert grid.counts == counts
    assert len(grid) == sum(counts) == len(grid.stride)


def test_make_grid_is_row_major_per_level() -> None:
    grid = make_grid((64, 32), (16, 32))  # level 16: 2 columns x 4 rows; level 32: 1 x 2
    assert grid.xy.tolist()[:4] == [[0, 0], [1, 0], [0, 1], [1, 1]]
    assert grid.xy.tolist()[8:] == [[0, 0], [0, 1]]
    assert grid.stride.tolist() == [16.0] * 8 + [32.0] * 2


def test_make_grid_refuses_bad_stride() -> None:
    with pytest.raises(ValueError, match="positive"):
        make_grid((64, 64), (8, 0))


# --- YOLOX ------------------------------------------------------------------------


def test_decode_yolox_known_answer() -> None:
    grid = make_grid((64, 32), (16, 32))
    output = np.zeros((1, 10, 7), np.float32)
    output[0, 3] = [0.5, 0.25, math.log(2.0), 0.0, 0.9, 0.2, 0.5]  # level 16, cell (1, 1)
    output[0, 9] = [0.0, 0.0, 0.0, 0.0, 0.5, 0.8, 0.1]  # level 32, cell (0, 1)
    output[0, 0] = [0.0, 0.0, 0.0, 0.0, 1.0, 0.29, 0.0]  # 0.29: below threshold
    c = decode_yolox(output, grid, num_classes=2, confidence=0.3)
    # centre ((0.5 + 1) * 16, (0.25 + 1) * 16) = (24, 20), size (32, 16)
    # centre ((0 + 0) * 32, (0 + 1) * 32) = (0, 32), size (32, 32)
    np.testing.assert_allclose(c.xyxy, [[8, 12, 40, 28], [-16, 16, 16, 48]], atol=1e-4)
    assert c.score.tolist() == pytest.approx([0.45, 0.4])
    assert c.class_id.tolist() == [1, 0]


def test_decode_yolox_empty_and_huge_logits() -> None:
    grid = make_grid((64, 32), (16, 32))
    output = np.zeros((1, 10, 7), np.float32)
    assert len(decode_yolox(output, grid, num_classes=2, confidence=0.1)) == 0
    output[0, 0] = [0, 0, 1e6, 1e6, 1.0, 1.0, 0.0]  # broken model: no inf boxes
    c = decode_yolox(output, grid, num_classes=2, confidence=0.1)
    assert np.isfinite(c.xyxy).all()


@pytest.mark.parametrize("shape", [(1, 9, 7), (1, 10, 8), (10, 7), (1, 10, 5)])
def test_decode_yolox_refuses_wrong_shape(shape: tuple[int, ...]) -> None:
    grid = make_grid((64, 32), (16, 32))
    with pytest.raises(ValueError, match="expected \\(1, 10, 7\\)"):
        decode_yolox(np.zeros(shape, np.float32), grid, num_classes=2, confidence=0.3)


# --- NanoDet ----------------------------------------------------------------------


def _one_hot_logits(bins_per_side: list[int], bins: int) -> np.ndarray:
    logits = np.full((4, bins), -50.0, np.float32)
    for side, b in enumerate(bins_per_side):
        logits[side, b] = 50.0
    return logits.reshape(-1)


def test_decode_nanodet_known_answer() -> None:
    grid = make_grid((32, 32), (8, 16), ceil=True)  # 16 + 4 cells
    reg_max = 3
    scores = np.zeros((20, 2), np.float32)
    dists = np.zeros((20, 16), np.float32)
    # level 8, cell (1, 1): centre 1 * 8 + 3.5 = 11.5; bins l=1, t=2, r=3, b=0
    scores[5] = [0.1, 0.7]
    dists[5] = _one_hot_logits([1, 2, 3, 0], reg_max + 1)
    # level 16, cell (0, 0): centre 7.5; uniform bins: expectation 1.5 -> 24 px each side
    scores[16] = [0.6, 0.2]
    c = decode_nanodet(scores, dists, grid, reg_max=reg_max, confidence=0.5)
    np.testing.assert_allclose(
        c.xyxy, [[3.5, -4.5, 35.5, 11.5], [-16.5, -16.5, 31.5, 31.5]], atol=1e-3
    )
    assert c.score.tolist() == pytest.approx([0.7, 0.6])
    assert c.class_id.tolist() == [1, 0]


def test_decode_nanodet_empty() -> None:
    grid = make_grid((32, 32), (8, 16), ceil=True)
    c = decode_nanodet(
        np.zeros((20, 2), np.float32),
        np.zeros((20, 16), np.float32),
        grid,
        reg_max=3,
        confidence=0.5,
    )
    assert len(c) == 0


@pytest.mark.parametrize(
    ("scores_shape", "dists_shape", "message"),
    [
        ((19, 2), (20, 16), "class scores"),
        ((20, 2), (20, 32), "box distributions"),
        ((20, 2), (19, 16), "box distributions"),
        ((20,), (20, 16), "class scores"),
    ],
)
def test_decode_nanodet_refuses_wrong_shapes(
    scores_shape: tuple[int, ...], dists_shape: tuple[int, ...], message: str
) -> None:
    grid = make_grid((32, 32), (8, 16), ceil=True)
    with pytest.raises(ValueError, match=message):
        decode_nanodet(
            np.zeros(scores_shape, np.float32),
            np.zeros(dists_shape, np.float32),
            grid,
            reg_max=3,
            confidence=0.5,
        )


# --- FastestDet -------------------------------------------------------------------


def test_decode_fastestdet_known_answer() -> None:
    output = np.zeros((1, 7, 2, 4), np.float32)  # 2 classes, 2 rows x 4 columns
    # row 1, column 2: no offset, w = h = sigmoid(0) = 0.5 of the input; class 1 at 1.0
    output[0, :, 1, 2] = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]
    # row 0, column 0: tanh(tx) = 0.5, w = sigmoid(logit(0.25)) = 0.25; score 0.5
    output[0, :, 0, 0] = [0.5, math.atanh(0.5), 0.0, math.log(0.25 / 0.75), 0.0, 0.5, 0.1]
    c = decode_fastestdet(output, input_wh=(40, 20), num_classes=2, confidence=0.4)
    # cell (2, 1): centre (20, 10), size (20, 10); cell (0, 0): centre (5, 0), size (10, 10)
    np.testing.assert_allclose(c.xyxy, [[0, -5, 10, 5], [10, 5, 30, 15]], atol=1e-4)
    assert c.score.tolist() == pytest.approx([0.5, 1.0])
    assert c.class_id.tolist() == [0, 1]


def test_decode_fastestdet_empty() -> None:
    output = np.zeros((1, 7, 2, 4), np.float32)
    assert len(decode_fastestdet(output, input_wh=(40, 20), num_classes=2, confidence=0.1)) == 0


@pytest.mark.parametrize("shape", [(1, 6, 2, 4), (7, 2, 4), (1, 7, 8)])
def test_decode_fastestdet_refuses_wrong_shape(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="expected \\(1, 7, rows, columns\\)"):
        decode_fastestdet(
            np.zeros(shape, np.float32), input_wh=(40, 20), num_classes=2, confidence=0.1
        )
