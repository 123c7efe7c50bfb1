"""Disposal photo checks (pure): real JPEGs and PNGs pass, everything else says why."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from server.lifecycle.photos import PhotoError, inspect_photo

cv2 = pytest.importorskip("cv2", reason="OpenCV encodes the test images")

LIMITS = {"max_bytes": 10 * 1024 * 1024, "max_pixels": 40_000_000}


def encode(ext: str, shape: tuple[int, ...] = (48, 64, 3), **params: int) -> bytes:
    image = np.random.default_rng(1).integers(0, 255, size=shape, dtype=np.uint8)
    flags = [value for pair in params.items() for value in (getattr(cv2, pair[0]), pair[1])]
    ok, data = cv2.imencode(ext, image, flags)
    assert ok
    return bytes(data.tobytes())


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (encode(".jpg"), "image/jpeg"),
        (encode(".jpg", IMWRITE_JPEG_PROGRESSIVE=1), "image/jpeg"),
        (encode(".jpg", (48, 64)), "image/jpeg"),
        (encode(".png"), "image/png"),
        (encode(".png", (48, 64)), "image/png"),
        (encode(".png", (48, 64, 4)), "image/png"),
        (encode(".png", IMWRITE_PNG_COMPRESSION=9), "image/png"),
    ],
    ids=["jpeg", "progressive", "grey-jpeg", "png", "grey-png", "rgba-png", "png-9"],
)
def test_real_images_pass(data: bytes, content_type: str) -> None:
    info = inspect_photo(data, **LIMITS)
    assert (info.content_type, info.width, info.height) == (content_type, 64, 48)
    assert info.sha256 == hashlib.sha256(data).hexdigest() and info.byte_size == len(data)


JPEG = encode(".jpg")
PNG = encode(".png")


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        (b"", 422, "empty"),
        (b"GIF89a" + b"\0" * 20, 415, "must be a JPEG or PNG"),
        (b"%PDF-1.7 hello", 415, "must be a JPEG or PNG"),
        (JPEG[:-2], 422, "truncated"),
        (JPEG[: len(JPEG) // 2], 422, "not a complete JPEG"),
        (JPEG[:2] + b"\xff\xd9", 422, "no frame header"),
        (PNG[:-12], 422, "no IEND"),
        (PNG[:40] + bytes([PNG[40] ^ 0xFF]) + PNG[41:], 422, "CRC"),
        (PNG[:8] + PNG[33:], 422, "first chunk is not a header"),
    ],
    ids=[
        "empty",
        "gif",
        "pdf",
        "jpeg-no-eoi",
        "jpeg-half",
        "jpeg-no-frame",
        "png-no-iend",
        "png-crc",
        "png-no-ihdr",
    ],
)
def test_broken_or_foreign_files_are_refused(data: bytes, status: int, message: str) -> None:
    with pytest.raises(PhotoError, match=message) as caught:
        inspect_photo(data, **LIMITS)
    assert caught.value.status == status


def test_too_many_bytes_is_413() -> None:
    with pytest.raises(PhotoError, match=f"at most {len(JPEG) - 1} bytes") as caught:
        inspect_photo(JPEG, max_bytes=len(JPEG) - 1, max_pixels=10**9)
    assert caught.value.status == 413


@pytest.mark.parametrize("data", [JPEG, PNG], ids=["jpeg", "png"])
def test_too_many_pixels_is_422(data: bytes) -> None:
    with pytest.raises(PhotoError, match="64x48 pixels; at most 3000") as caught:
        inspect_photo(data, max_bytes=10**8, max_pixels=3000)
    assert caught.value.status == 422


def test_png_data_that_inflates_to_the_wrong_size_is_refused() -> None:
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", 4, 4, 8, 0, 0, 0, 0)
    short = zlib.compress(b"\0" * 10)  # 4 rows of 1 + 4 bytes would be 20
    data = (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", short) + chunk(b"IEND", b"")
    )
    with pytest.raises(PhotoError, match="holds 10 bytes; its header says 20"):
        inspect_photo(data, **LIMITS)
