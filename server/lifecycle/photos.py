"""Disposal photos: refuse anything that is not a complete JPEG or PNG within the limits.

The server carries no image library, so a photo is checked by its structure, all of it:
a PNG chunk by chunk (every CRC, the header, the image data inflated to exactly the size
its header promises), a JPEG segment by segment (every segment length, a frame header
with its size, at least one scan, the end marker). The content type is what the bytes
are, never what the client said. Pure: bytes in, :class:`PhotoInfo` or
:class:`PhotoError` out.

Example:
    >>> inspect_photo(data, max_bytes=10 << 20, max_pixels=40_000_000)  # doctest: +SKIP
    PhotoInfo(content_type='image/jpeg', width=640, height=480, byte_size=20311, sha256='…')
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass
from typing import Final

PNG_SIGNATURE: Final[bytes] = b"\x89PNG\r\n\x1a\n"
_PNG_CHANNELS: Final[dict[int, int]] = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_PNG_DEPTHS: Final[dict[int, tuple[int, ...]]] = {
    0: (1, 2, 4, 8, 16),
    2: (8, 16),
    3: (1, 2, 4, 8),
    4: (8, 16),
    6: (8, 16),
}
_JPEG_SOF: Final[frozenset[int]] = frozenset(
    {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
)
_JPEG_STANDALONE: Final[frozenset[int]] = frozenset({0x01, *range(0xD0, 0xD8)})


class PhotoError(ValueError):
    """A photo that is refused; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class PhotoInfo:
    """A checked photo."""

    content_type: str
    width: int
    height: int
    byte_size: int
    sha256: str


def _bad(kind: str, why: str) -> PhotoError:
    return PhotoError(f"not a complete {kind} image: {why}", status=422)


def _png_row_bytes(width: int, bits_per_pixel: int) -> int:
    return 1 + (width * bits_per_pixel + 7) // 8


def _png_expected_size(width: int, height: int, bits_per_pixel: int, interlaced: bool) -> int:
    if not interlaced:
        return height * _png_row_bytes(width, bits_per_pixel)
    total = 0
    # Adam7: (x start, y start, x step, y step) of the seven passes.
    for x0, y0, dx, dy in (
        (0, 0, 8, 8),
        (4, 0, 8, 8),
        (0, 4, 4, 8),
        (2, 0, 4, 4),
        (0, 2, 2, 4),
        (1, 0, 2, 2),
        (0, 1, 1, 2),
    ):
        cols = (width - x0 + dx - 1) // dx if width > x0 else 0
        rows = (height - y0 + dy - 1) // dy if height > y0 else 0
        if cols and rows:
            total += rows * _png_row_bytes(cols, bits_per_pixel)
    return total


def _check_png(data: bytes, max_pixels: int) -> tuple[int, int]:
    pos = len(PNG_SIGNATURE)
    header: tuple[int, int, int, int, int] | None = None
    inflater = zlib.decompressobj()
    inflated = 0
    expected = 0
    seen_idat = False
    while True:
        if pos + 8 > len(data):
            raise _bad("PNG", "it ends inside a chunk header (no IEND)")
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 8 + length + 4
        if end > len(data):
            raise _bad("PNG", f"chunk {kind!r} runs past the end of the file")
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : end])
        if zlib.crc32(kind + body) != crc:
            raise _bad("PNG", f"chunk {kind!r} fails its CRC")
        if header is None:
            if kind != b"IHDR" or length != 13:
                raise _bad("PNG", "the first chunk is not a header (IHDR)")
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if width == 0 or height == 0 or colour not in _PNG_CHANNELS:
                raise _bad("PNG", "the header has no size or an unknown colour type")
            if depth not in _PNG_DEPTHS[colour] or interlace not in (0, 1):
                raise _bad("PNG", "the header has an invalid bit depth or interlace method")
            if width * height > max_pixels:
                raise PhotoError(
                    f"photo is {width}x{height} pixels; at most {max_pixels} pixels are taken",
                    status=422,
                )
            header = (width, height, depth, colour, interlace)
            expected = _png_expected_size(
                width, height, depth * _PNG_CHANNELS[colour], interlace == 1
            )
        elif kind == b"IDAT":
            seen_idat = True
            try:
                chunk = inflater.decompress(body, expected + 1 - inflated)
            except zlib.error as exc:
                raise _bad("PNG", f"the image data does not inflate ({exc})") from None
            inflated += len(chunk)
            if inflated > expected:
                raise _bad("PNG", "the image data is larger than its header says")
        elif kind == b"IEND":
            break
        pos = end
    if header is None or not seen_idat:
        raise _bad("PNG", "it has no image data (IDAT)")
    if not inflater.eof or inflated != expected:
        raise _bad("PNG", f"the image data holds {inflated} bytes; its header says {expected}")
    return header[0], header[1]


def _check_jpeg(data: bytes, max_pixels: int) -> tuple[int, int]:
    pos = 2
    size: tuple[int, int] | None = None
    scans = 0
    while True:
        if pos + 2 > len(data):
            raise _bad("JPEG", "it ends before its end marker (truncated)")
        if data[pos] != 0xFF:
            raise _bad("JPEG", f"no segment marker at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:
            break
        if marker in _JPEG_STANDALONE or marker == 0xD8:
            raise _bad("JPEG", f"unexpected marker 0xFF{marker:02X} at byte {pos}")
        if pos + 4 > len(data):
            raise _bad("JPEG", "it ends inside a segment header")
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if length < 2 or pos + 2 + length > len(data):
            raise _bad("JPEG", f"segment 0xFF{marker:02X} has a bad length")
        body = data[pos + 4 : pos + 2 + length]
        pos += 2 + length
        if marker in _JPEG_SOF:
            if len(body) < 6:
                raise _bad("JPEG", "the frame header is too short")
            _, height, width, components = struct.unpack(">BHHB", body[:6])
            if width == 0 or height == 0 or components == 0:
                raise _bad("JPEG", "the frame header has no size")
            if width * height > max_pixels:
                raise PhotoError(
                    f"photo is {width}x{height} pixels; at most {max_pixels} pixels are taken",
                    status=422,
                )
            size = (width, height)
        elif marker == 0xDA:
            if size is None:
                raise _bad("JPEG", "a scan comes before the frame header")
            scans += 1
            # Entropy-coded data: up to the next marker that is not a stuffed 0 or a restart.
            while True:
                nxt = data.find(b"\xff", pos)
                if nxt < 0 or nxt + 1 >= len(data):
                    raise _bad("JPEG", "it ends inside a scan (truncated)")
                follower = data[nxt + 1]
                if follower == 0x00 or 0xD0 <= follower <= 0xD7:
                    pos = nxt + 2
                    continue
                pos = nxt
                break
    if size is None or scans == 0:
        raise _bad("JPEG", "it has no frame header or no scan")
    return size


def inspect_photo(data: bytes, *, max_bytes: int, max_pixels: int) -> PhotoInfo:
    """Check a photo and describe it.

    Raises:
        PhotoError: 413 over ``max_bytes``; 415 neither JPEG nor PNG; 422 broken, empty
            or over ``max_pixels``.
    """
    if len(data) > max_bytes:
        raise PhotoError(
            f"photo is {len(data)} bytes; at most {max_bytes} bytes are taken", status=413
        )
    if not data:
        raise PhotoError("photo is empty", status=422)
    if data.startswith(PNG_SIGNATURE):
        content_type = "image/png"
        width, height = _check_png(data, max_pixels)
    elif data.startswith(b"\xff\xd8\xff"):
        content_type = "image/jpeg"
        width, height = _check_jpeg(data, max_pixels)
    else:
        raise PhotoError("photo must be a JPEG or PNG image", status=415)
    return PhotoInfo(
        content_type=content_type,
        width=width,
        height=height,
        byte_size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
