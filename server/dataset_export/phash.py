"""A perceptual difference hash (dHash, 256 bits) of a JPEG, for folding near-duplicate frames.

Decoding needs OpenCV and numpy (the ``edge`` extra): the export runs where training
runs; the server's own image needs neither.
"""

from __future__ import annotations

from typing import Any


class ImageDecodeError(ValueError):
    """The bytes are not an image OpenCV can decode."""


def _cv() -> tuple[Any, Any]:
    try:
        import cv2
        import numpy as np
    except ImportError as exc:  # pragma: no cover - the dev install has both
        raise RuntimeError(
            f"dataset export decodes frames with OpenCV ({exc}): pip install 'civicwatch[edge]'"
        ) from exc
    return cv2, np


HASH_SIDE = 16
"""The thumbnail is (HASH_SIDE + 1) x HASH_SIDE grey pixels: HASH_SIDE**2 = 256 bits. A
fixed camera sees the same background in every frame, so an 8x8 hash (64 bits) hardly
tells two stalls at one spot apart; 16x16 does."""

HASH_BITS = HASH_SIDE * HASH_SIDE


def dhash(jpeg: bytes) -> int:
    """Difference hash: a 17x16 grey thumbnail, one bit per horizontal neighbour pair.

    Raises:
        ImageDecodeError: The bytes do not decode to an image.
    """
    cv2, np = _cv()
    image = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise ImageDecodeError("the frame does not decode as an image")
    small = cv2.resize(image, (HASH_SIDE + 1, HASH_SIDE), interpolation=cv2.INTER_AREA).astype(
        np.int16
    )
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return value
