"""Decoding shared by the sources: a bad packet is logged and skipped, never fatal."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import av

from edge.sources.base import SourceStatus
from edge.sources.redact import redact_text

logger = logging.getLogger(__name__)


def error_text(exc: BaseException) -> str:
    """A short, credential-free description of a decoding or I/O error.

    FFmpeg errors end with the URL they concern (``...: 'rtsp://user:pass@host'``); only
    their reason is kept. Anything else is redacted as a whole.

    Args:
        exc: The exception.

    Returns:
        E.g. ``"Connection refused"`` or ``"Invalid data found when processing input"``.
    """
    if isinstance(exc, av.error.FFmpegError) and exc.strerror:
        return redact_text(str(exc.strerror))
    return redact_text(str(exc)) or type(exc).__name__


def _worth_logging(count: int) -> bool:
    """Log the 1st, 2nd, 4th, 8th... error: a broken stream must not flood the log."""
    return count & (count - 1) == 0


def decode_packet(packet: Any, status: SourceStatus, describe: str) -> Sequence[Any]:
    """Decode one demuxed packet; on a decode error, count it, log it and return nothing.

    Args:
        packet: An ``av.Packet`` of the video stream.
        status: The source's counters (``decode_errors`` is incremented on failure).
        describe: How the source appears in log lines (already redacted).

    Returns:
        The decoded ``av.VideoFrame`` objects (often one, none for a skipped packet).
    """
    try:
        return packet.decode()  # type: ignore[no-any-return]
    except (av.error.FFmpegError, ValueError) as exc:
        count = status.decode_error()
        message = error_text(exc)
        status.error(f"decode error: {message}")
        level = logging.WARNING if _worth_logging(count) else logging.DEBUG
        logger.log(
            level,
            "camera %s (%s): skipped a packet that failed to decode (%d so far): %s",
            status.camera_id,
            describe,
            count,
            message,
        )
        return ()
