"""Frame sources: RTSP cameras and local video files, and the threaded reader.

Example:
    >>> from pydantic import TypeAdapter
    >>> cfg = TypeAdapter(SourceConfig).validate_python({"type": "file", "path": "clip.mp4"})
    >>> source = open_source("cam-1", cfg)
    >>> type(source).__name__, source.state
    ('FileSource', <SourceState.IDLE: 'idle'>)
"""

from __future__ import annotations

from edge.sources.base import FrameSource, GatedSource, SourceError, SourceState, SourceStats
from edge.sources.config import FileSourceConfig, RtspSourceConfig, SourceConfig
from edge.sources.file import FileSource
from edge.sources.reader import (
    FrameAges,
    FrameAgeStats,
    FrameQueue,
    FrameReader,
    QueuePolicy,
    ReaderStats,
)
from edge.sources.redact import redact_text, redact_url
from edge.sources.rtsp import FAST_PROBE_OPTIONS, RtspSource

__all__ = [
    "FAST_PROBE_OPTIONS",
    "FileSource",
    "FileSourceConfig",
    "FrameAgeStats",
    "FrameAges",
    "FrameQueue",
    "FrameReader",
    "FrameSource",
    "GatedSource",
    "QueuePolicy",
    "ReaderStats",
    "RtspSource",
    "RtspSourceConfig",
    "SourceConfig",
    "SourceError",
    "SourceState",
    "SourceStats",
    "open_source",
    "redact_text",
    "redact_url",
]


def open_source(camera_id: str, config: RtspSourceConfig | FileSourceConfig) -> FrameSource:
    """Build the source that ``config`` describes (nothing is opened until it is read).

    Args:
        camera_id: The camera the frames belong to.
        config: An RTSP or file source configuration.

    Returns:
        An :class:`RtspSource` or a :class:`FileSource`.
    """
    if isinstance(config, RtspSourceConfig):
        return RtspSource(camera_id, config)
    return FileSource(camera_id, config)
