"""Pixel dimensions of JPEG and PNG evidence, read from the header without decoding.

A small file can declare an enormous image (a 16000 x 16000 JPEG of 3 MB takes a
browser to gigabytes), so the size is checked on arrival from the bytes that declare it:
the JPEG frame header (SOFn) or the PNG ``IHDR`` chunk.
"""

from __future__ import annotations

import struct
from typing import Final

_PNG_SIGNATURE: Final[bytes] = b"\x89PNG\r\n\x1a\n"
_SOF_MARKERS: Final[frozenset[int]] = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE: Final[frozenset[int]] = frozenset({0x01, *range(0xD0, 0xD8)})


class ImageHeaderError(ValueError):
    """The bytes do not carry a readable image header."""


def _jpeg_size(data: bytes) -> tuple[int, int]:
    pos = 2  # after SOI
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ImageHeaderError(f"JPEG marker expected at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image / start of scan before any frame header
            break
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if length < 2:
            raise ImageHeaderError(f"JPEG segment at byte {pos} has length {length}")
        if marker in _SOF_MARKERS:
            if pos + 9 > len(data):
                break
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return width, height
        pos += 2 + length
    raise ImageHeaderError("no JPEG frame header (SOF) before the image data")


def _png_size(data: bytes) -> tuple[int, int]:
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise ImageHeaderError("PNG without an IHDR chunk first")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def image_size_wh(content_type: str, data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` of a JPEG or PNG; ``None`` for other content types.

    Raises:
        ImageHeaderError: A JPEG or PNG whose header cannot be read.
    """
    if content_type == "image/jpeg":
        if not data.startswith(b"\xff\xd8"):
            raise ImageHeaderError("not a JPEG (no SOI marker)")
        return _jpeg_size(data)
    if content_type == "image/png":
        if not data.startswith(_PNG_SIGNATURE):
            raise ImageHeaderError("not a PNG (no signature)")
        return _png_size(data)
    return None
