"""The near-duplicate threshold on real JPEGs: re-captures fold, other scenes do not."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from server.dataset_export.phash import ImageDecodeError, dhash
from server.dataset_export.plan import NEAR_DUPLICATE_BITS, hamming


def scene(seed: int) -> np.ndarray:
    """A street-like picture: smooth gradient background with a few filled boxes."""
    rng = np.random.default_rng(seed)
    h, w = 360, 640
    ramp = np.linspace(40, 200, w, dtype=np.float32)[None, :, None]
    image = np.broadcast_to(ramp, (h, w, 3)).astype(np.uint8).copy()
    for _ in range(6):
        x, y = int(rng.integers(0, w - 120)), int(rng.integers(0, h - 90))
        color = tuple(int(c) for c in rng.integers(0, 255, 3))
        cv2.rectangle(image, (x, y), (x + int(rng.integers(40, 120)), y + 80), color, -1)
    return image


def encode(image: np.ndarray, quality: int = 85) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return bytes(data.tobytes())


@pytest.mark.parametrize("seed", range(5))
def test_recaptures_fold(seed: int) -> None:
    base = scene(seed)
    rng = np.random.default_rng(100 + seed)
    noisy = np.clip(base + rng.normal(0, 4, base.shape), 0, 255).astype(np.uint8)
    brighter = cv2.convertScaleAbs(base, alpha=1.0, beta=12)
    shifted = np.roll(base, 2, axis=1)
    reference = dhash(encode(base))
    for variant in (encode(base, 60), encode(noisy), encode(brighter), encode(shifted)):
        assert hamming(reference, dhash(variant)) <= NEAR_DUPLICATE_BITS


def test_other_scenes_do_not_fold() -> None:
    hashes = [dhash(encode(scene(seed))) for seed in range(12)]
    distances = [hamming(a, b) for i, a in enumerate(hashes) for b in hashes[i + 1 :]]
    assert min(distances) > NEAR_DUPLICATE_BITS


def test_undecodable_bytes() -> None:
    with pytest.raises(ImageDecodeError):
        dhash(b"not a jpeg")
