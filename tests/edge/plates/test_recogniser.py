"""The recogniser's pure parts: CTC decoding, the upright warp and double-row stitching."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.plates.recogniser import (
    PLATE_CHARS,
    ctc_greedy,
    preprocess,
    softmax,
    stitch_double_row,
    warp_plate,
)

ALPHABET = "#AB7"


def steps(*indices: int, p: float = 1.0) -> np.ndarray:
    """One-hot steps (probability ``p`` on each index, the rest spread evenly)."""
    out = np.full((len(indices), len(ALPHABET)), (1.0 - p) / (len(ALPHABET) - 1), np.float32)
    out[np.arange(len(indices)), indices] = p
    return out


@pytest.mark.parametrize(
    ("indices", "text"),
    [
        ((), ""),
        ((0, 0, 0), ""),
        ((1,), "A"),
        ((1, 1, 1), "A"),  # repeats collapse
        ((1, 0, 1), "AA"),  # a blank between keeps both
        ((0, 1, 2, 2, 0, 3, 3), "AB7"),
        ((3, 0, 0, 3, 3, 0, 2), "77B"),
    ],
    ids=["no steps", "all blank", "one", "repeat", "blank splits", "mixed", "double"],
)
def test_ctc_greedy(indices: tuple[int, ...], text: str) -> None:
    decoded = ctc_greedy(steps(*indices).reshape(len(indices), len(ALPHABET)), ALPHABET)
    assert decoded.text == text
    assert len(decoded.char_confidence) == len(text)


def test_ctc_confidence_is_the_weakest_character() -> None:
    probs = np.concatenate([steps(1, p=0.9), steps(1, p=0.95), steps(0), steps(2, p=0.6)])
    decoded = ctc_greedy(probs, ALPHABET)
    assert decoded.text == "AB"
    assert decoded.char_confidence == pytest.approx((0.95, 0.6))  # a held character: its best
    assert decoded.confidence == pytest.approx(0.6)
    assert ctc_greedy(steps(0, 0), ALPHABET).confidence == 0.0


def test_ctc_refuses_the_wrong_alphabet_size() -> None:
    with pytest.raises(ValueError, match=r"\(T, 78\)"):
        ctc_greedy(np.zeros((21, 77), np.float32))
    assert PLATE_CHARS[0] == "#" and len(PLATE_CHARS) == 78


def test_softmax_rows_sum_to_one() -> None:
    out = softmax(np.array([[1000.0, 0.0], [0.0, 0.0]]))
    assert out.ravel().tolist() == pytest.approx([1.0, 0.0, 0.5, 0.5])


def test_stitch_double_row_puts_the_top_row_left_of_the_bottom() -> None:
    plate = np.zeros((24, 40, 3), np.uint8)
    plate[:10] = 200  # top 5/12: the province and letter row
    plate[10:] = 50
    stitched = stitch_double_row(plate)
    # the bottom row is rows 8..24 (16 high, 40 wide); the top row is stretched to 16x40
    assert stitched.shape == (16, 80, 3)
    assert int(stitched[:, :40].mean()) == 200
    assert (stitched[:, 40:] == plate[8:]).all()


def test_stitch_double_row_refuses_a_sliver() -> None:
    with pytest.raises(ValueError, match="at least 3 pixel rows"):
        stitch_double_row(np.zeros((2, 40, 3), np.uint8))


def test_warp_plate_makes_a_tilted_plate_upright() -> None:
    image = np.zeros((200, 300, 3), np.uint8)
    corners = np.array([[60, 80], [220, 50], [230, 110], [70, 140]], np.float32)
    cv2.fillConvexPoly(image, corners.astype(np.int32), (0, 200, 255))
    # mark the top-left corner so its position after the warp can be checked
    cv2.circle(image, (72, 88), 6, (255, 0, 0), -1)
    upright = warp_plate(image, corners[[2, 0, 3, 1]])  # any order
    h, w = upright.shape[:2]
    assert (w, h) == (round(float(np.hypot(160, 30))), round(float(np.hypot(10, 60))))
    inner = upright[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4]
    assert (np.abs(inner.astype(int) - (0, 200, 255)) < 10).all()
    assert upright[:12, :12, 0].max() == 255  # the mark stays top-left


def test_preprocess_shape_and_scale() -> None:
    blob = preprocess(np.full((30, 100, 3), 150, np.uint8))
    assert blob.shape == (1, 3, 48, 168) and blob.dtype == np.float32
    assert float(blob.mean()) == pytest.approx((150 / 255 - 0.588) / 0.193, abs=1e-4)
