"""The plate detector's pure parts: corner ordering and decoding the raw rows."""

from __future__ import annotations

import numpy as np
import pytest

from edge.detectors.transforms import ImageTransform
from edge.plates.detector import ROW_WIDTH, PlateDetection, decode, order_corners

TL, TR, BR, BL = [0.0, 0.0], [10.0, 0.0], [10.0, 4.0], [0.0, 4.0]


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        ([TL, TR, BR, BL], [TL, TR, BR, BL]),
        ([BR, BL, TL, TR], [TL, TR, BR, BL]),
        ([BL, TR, TL, BR], [TL, TR, BR, BL]),
        # tilted down to the right: the top-left corner is still first
        ([[0, 2], [10, 5], [10, 9], [0, 6]], [[0, 2], [10, 5], [10, 9], [0, 6]]),
        # tilted up to the right, given anticlockwise
        ([[0, 6], [0, 10], [10, 7], [10, 3]], [[0, 6], [10, 3], [10, 7], [0, 10]]),
    ],
    ids=["ordered", "rotated list", "shuffled", "tilted down", "tilted up, anticlockwise"],
)
def test_order_corners(points: list[list[float]], expected: list[list[float]]) -> None:
    assert order_corners(points).tolist() == expected


@pytest.mark.parametrize(
    "points",
    [[], [TL, TR, BR], [TL, TR, BR, BL, TL], [TL, TR, BR, [np.nan, 4.0]]],
    ids=["empty", "three", "five", "nan"],
)
def test_order_corners_refuses_malformed(points: list[list[float]]) -> None:
    with pytest.raises(ValueError, match="four finite"):
        order_corners(points)


def row(
    cx: float, cy: float, w: float, h: float, obj: float, single: float, double: float
) -> list[float]:
    """One raw output row, its corners the box's own (given bottom-right first)."""
    x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
    return [cx, cy, w, h, obj, x2, y2, x1, y2, x1, y1, x2, y1, single, double]


def rows(*r: list[float]) -> np.ndarray:
    return np.array(r, dtype=np.float32).reshape(-1, ROW_WIDTH)


NO_SHIFT = ImageTransform(1.0, 1.0)


def test_decode_empty_and_below_score() -> None:
    assert decode(rows(), NO_SHIFT, (640, 640), min_score=0.3, iou=0.5) == []
    # 0.5 objectness times 0.5 class: 0.25 < 0.3
    weak = rows(row(100, 100, 40, 20, 0.5, 0.5, 0.1))
    assert decode(weak, NO_SHIFT, (640, 640), min_score=0.3, iou=0.5) == []


def test_decode_scores_classes_and_nms() -> None:
    out = rows(
        row(100, 100, 40, 20, 0.9, 0.9, 0.1),  # single row, 0.81
        row(102, 101, 40, 20, 0.8, 0.9, 0.1),  # the same plate, weaker: suppressed
        row(300, 200, 60, 40, 0.9, 0.2, 0.8),  # double row, 0.72
    )
    found = decode(out, NO_SHIFT, (640, 640), min_score=0.3, iou=0.5)
    assert [(round(p.score, 2), p.double_row) for p in found] == [(0.81, False), (0.72, True)]
    first = found[0]
    assert first.xyxy.tolist() == [80.0, 90.0, 120.0, 110.0]
    assert first.corners.tolist() == [[80, 90], [120, 90], [120, 110], [80, 110]]


def test_decode_maps_back_through_the_letterbox() -> None:
    # a 1280x720 image letterboxed to 640: scale 0.5, 140 px of padding above
    transform = ImageTransform(0.5, 0.5, 0.0, 140.0)
    (plate,) = decode(
        rows(row(320, 340, 40, 20, 1.0, 1.0, 0.0)), transform, (1280, 720), min_score=0.3, iou=0.5
    )
    assert plate.xyxy.tolist() == [600.0, 380.0, 680.0, 420.0]
    assert plate.corners[0].tolist() == [600.0, 380.0]


def test_decode_clips_and_drops_plates_in_the_padding() -> None:
    transform = ImageTransform(0.5, 0.5, 0.0, 140.0)
    out = rows(row(320, 60, 40, 20, 1.0, 1.0, 0.0))  # all in the top padding
    assert decode(out, transform, (1280, 720), min_score=0.3, iou=0.5) == []


def test_decode_refuses_other_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(N, 15\)"):
        decode(np.zeros((3, 14), np.float32), NO_SHIFT, (10, 10), min_score=0.3, iou=0.5)


def test_shifted_moves_corners_and_box() -> None:
    plate = PlateDetection(
        corners=np.array([TL, TR, BR, BL], np.float32),
        xyxy=np.array([0, 0, 10, 4], np.float32),
        score=0.9,
        double_row=True,
    )
    moved = plate.shifted(5.0, 7.0)
    assert moved.xyxy.tolist() == [5, 7, 15, 11]
    assert moved.corners.tolist() == [[5, 7], [15, 7], [15, 11], [5, 11]]
    assert moved.double_row and moved.score == 0.9
