"""Letterbox / resize and the inverse mapping of boxes back to the image."""

from __future__ import annotations

import numpy as np
import pytest

from edge.detectors.transforms import PAD_VALUE, ImageTransform, letterbox, resize, to_blob


def _image(h: int, w: int) -> np.ndarray:
    rng = np.random.default_rng(h * 1000 + w)
    # Values 0..100 never equal the pad grey, so padding is recognisable.
    return rng.integers(0, 100, size=(h, w, 3), dtype=np.uint8)


# (image h, w), target (w, h), centred, expected (scale_x, scale_y, pad_x, pad_y)
LETTERBOX_CASES = [
    ((720, 1280), (640, 640), True, (0.5, 0.5, 0.0, 140.0)),
    ((720, 1280), (640, 640), False, (0.5, 0.5, 0.0, 0.0)),
    ((1080, 810), (416, 416), True, (312 / 810, 416 / 1080, 52.0, 0.0)),
    ((1080, 810), (416, 416), False, (312 / 810, 416 / 1080, 0.0, 0.0)),
    ((100, 200), (96, 64), True, (0.48, 0.48, 0.0, 8.0)),  # odd-free split
    ((10, 21), (32, 32), True, (32 / 21, 15 / 10, 0.0, 8.0)),  # pad 17: 8 above, 9 below
    ((64, 96), (96, 64), True, (1.0, 1.0, 0.0, 0.0)),  # already the right size
    ((1, 1), (32, 32), True, (32.0, 32.0, 0.0, 0.0)),  # tiny image scaled up
]


@pytest.mark.parametrize(("hw", "target", "center", "expected"), LETTERBOX_CASES)
def test_letterbox_geometry(
    hw: tuple[int, int],
    target: tuple[int, int],
    center: bool,
    expected: tuple[float, float, float, float],
) -> None:
    fitted = letterbox(_image(*hw), target, center=center)
    assert fitted.image.shape == (target[1], target[0], 3)
    assert fitted.image.dtype == np.uint8
    t = fitted.transform
    assert (t.scale_x, t.scale_y, t.pad_x, t.pad_y) == pytest.approx(expected)


@pytest.mark.parametrize(("hw", "target", "center", "expected"), LETTERBOX_CASES)
def test_letterbox_pads_only_outside_content(
    hw: tuple[int, int],
    target: tuple[int, int],
    center: bool,
    expected: tuple[float, float, float, float],
) -> None:
    fitted = letterbox(_image(*hw), target, center=center)
    t = fitted.transform
    x0, y0 = int(t.pad_x), int(t.pad_y)
    x1, y1 = x0 + round(hw[1] * t.scale_x), y0 + round(hw[0] * t.scale_y)
    content = np.zeros(fitted.image.shape[:2], dtype=bool)
    content[y0:y1, x0:x1] = True
    assert (fitted.image[~content] == PAD_VALUE).all()
    assert (fitted.image[content] < PAD_VALUE).all()


def test_centred_letterbox_puts_odd_pixel_bottom() -> None:
    fitted = letterbox(_image(10, 21), (32, 32), center=True)
    rows_padded = (fitted.image == PAD_VALUE).all(axis=(1, 2))
    assert rows_padded[:8].all() and not rows_padded[8]
    assert rows_padded[-9:].all() and not rows_padded[-10]


@pytest.mark.parametrize(("hw", "target", "center", "expected"), LETTERBOX_CASES)
def test_inverse_maps_network_boxes_back(
    hw: tuple[int, int],
    target: tuple[int, int],
    center: bool,
    expected: tuple[float, float, float, float],
) -> None:
    h, w = hw
    t = letterbox(_image(h, w), target, center=center).transform
    boxes = np.array([[0, 0, w, h], [w * 0.25, h * 0.5, w * 0.75, h]], dtype=np.float32)
    network = t.to_network(boxes)
    # The whole image lands exactly on the content area.
    assert network[0] == pytest.approx(
        [t.pad_x, t.pad_y, t.pad_x + w * t.scale_x, t.pad_y + h * t.scale_y]
    )
    np.testing.assert_allclose(t.to_image(network), boxes, rtol=1e-5, atol=1e-3)


def test_inverse_of_known_letterbox_box() -> None:
    # 200x100 image into 96x64: scale 0.48, 8 px of grey above.
    t = letterbox(_image(100, 200), (96, 64)).transform
    out = t.to_image(np.array([[38, 27, 58, 37]], dtype=np.float32))
    np.testing.assert_allclose(out, [[38 / 0.48, 19 / 0.48, 58 / 0.48, 29 / 0.48]], rtol=1e-6)


def test_inverse_of_empty_boxes() -> None:
    t = ImageTransform(0.5, 0.5, 3.0, 4.0)
    assert t.to_image(np.empty((0, 4), np.float32)).shape == (0, 4)


@pytest.mark.parametrize(
    ("hw", "target", "scale"),
    [
        ((100, 200), (50, 50), (0.25, 0.5)),
        ((1080, 810), (416, 416), (416 / 810, 416 / 1080)),
        ((416, 416), (416, 416), (1.0, 1.0)),
    ],
)
def test_resize_stretches(
    hw: tuple[int, int], target: tuple[int, int], scale: tuple[float, float]
) -> None:
    fitted = resize(_image(*hw), target)
    assert fitted.image.shape == (target[1], target[0], 3)
    t = fitted.transform
    assert (t.scale_x, t.scale_y, t.pad_x, t.pad_y) == pytest.approx((*scale, 0.0, 0.0))
    box = np.array([[10, 20, 30, 40]], dtype=np.float32)
    np.testing.assert_allclose(t.to_image(t.to_network(box)), box, rtol=1e-5)


@pytest.mark.parametrize("target", [(0, 32), (32, 0), (-1, 5)])
def test_bad_target_size_is_refused(target: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="target size"):
        letterbox(_image(4, 4), target)
    with pytest.raises(ValueError, match="target size"):
        resize(_image(4, 4), target)


@pytest.mark.parametrize("scales", [(0.0, 1.0), (1.0, -2.0)])
def test_transform_refuses_non_positive_scale(scales: tuple[float, float]) -> None:
    with pytest.raises(ValueError, match="positive"):
        ImageTransform(*scales)


def test_to_blob_layout_scale_mean_and_swap() -> None:
    image = np.zeros((2, 3, 3), dtype=np.uint8)
    image[..., 0], image[..., 1], image[..., 2] = 10, 20, 30  # B, G, R
    blob = to_blob(image, scale=0.5, mean=(10.0, 10.0, 10.0))
    assert blob.shape == (1, 3, 2, 3) and blob.dtype == np.float32
    assert blob[0, :, 0, 0].tolist() == [0.0, 5.0, 10.0]
    swapped = to_blob(image, swap_rb=True)
    assert swapped[0, :, 1, 2].tolist() == [30.0, 20.0, 10.0]
