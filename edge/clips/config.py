"""The edge's ``clips:`` block: event clips around each case start."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ClipUploadConfig(BaseModel):
    """Where clips go: the server's HTTP API, logged in as this edge's account."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    url: str = Field(pattern=r"^https?://", max_length=2048)
    """The server's base URL (``https://cw.example.org``); clips go to /api/v1/evidence/clips."""
    username_env: str = "CIVICWATCH_EDGE_HTTP_USERNAME"
    """Environment variable with the edge's HTTP account (role edge, named as the edge id)."""
    password_env: str = "CIVICWATCH_EDGE_HTTP_PASSWORD"
    """Environment variable with its password."""
    chunk_bytes: Annotated[int, Field(ge=16 * 1024, le=8 * 1024 * 1024)] = 512 * 1024
    """Bytes per request (at most the server's http_limits.clip_chunk_bytes, 8 MiB by default);
    a broken upload resumes from the last chunk the server has."""
    timeout_s: Annotated[float, Field(gt=0, le=600)] = 30.0
    """Give up one request after this long (and retry later)."""
    retry_initial_s: Annotated[float, Field(gt=0, le=3600)] = 2.0
    """First wait after a failed upload; doubles up to retry_max_s."""
    retry_max_s: Annotated[float, Field(gt=0, le=86400)] = 300.0
    """Longest wait between attempts."""


class ClipsConfig(BaseModel):
    """Event clips: the last seconds of each camera's stream kept as packets (no decode),
    cut from ``pre_s`` before to ``post_s`` after each case start, remuxed to MP4."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    enabled: bool = False
    """Keep packets and write clips (RTSP cameras)."""
    pre_s: Annotated[float, Field(ge=0.0, le=120.0)] = 10.0
    """Seconds before the case start."""
    post_s: Annotated[float, Field(ge=1.0, le=120.0)] = 10.0
    """Seconds after it; the clip is written when they have passed."""
    buffer_s: Annotated[float, Field(gt=0.0, le=600.0)] | None = None
    """Seconds of stream kept per camera; default pre_s + post_s + 10 (room for a keyframe
    before the start and for the wait)."""
    max_buffer_bytes: Annotated[int, Field(ge=1024 * 1024, le=1024 * 1024 * 1024)] = (
        64 * 1024 * 1024
    )
    """Most packet bytes kept per camera (a cap for very high bitrates)."""
    spool_dir: Path = Path("var/edge/clips")
    """Clips wait here until the server has them."""
    upload: ClipUploadConfig | None = None
    """Where to upload; null: clips stay in the spool (and in the chain)."""

    @model_validator(mode="after")
    def _buffer_holds_a_clip(self) -> Self:
        if self.buffer_s is not None and self.buffer_s < self.pre_s + self.post_s:
            raise ValueError(
                f"buffer_s ({self.buffer_s}) must hold a whole clip: at least pre_s + post_s "
                f"({self.pre_s + self.post_s})"
            )
        return self

    @property
    def ring_s(self) -> float:
        """Seconds of stream each camera's ring keeps."""
        return self.buffer_s if self.buffer_s is not None else self.pre_s + self.post_s + 10.0
