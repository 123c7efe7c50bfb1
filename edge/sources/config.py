"""Configuration of frame sources, one model per ``type``.

Example:
    >>> from pydantic import TypeAdapter
    >>> cfg = TypeAdapter(SourceConfig).validate_python(
    ...     {"type": "rtsp", "url": "rtsp://admin:secret@10.0.0.7/stream"})
    >>> cfg  # doctest: +ELLIPSIS
    RtspSourceConfig(type='rtsp', url='rtsp://***@10.0.0.7/stream', transport='tcp', ...)
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails

from edge.sources.redact import redact_text

__all__ = ["FileSourceConfig", "RtspSourceConfig", "SourceConfig"]


def _redact_value(value: object) -> object:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
    return value


def _redacted_error(exc: ValidationError) -> ValidationError:
    """The same validation error with credentials stripped from every echoed input."""
    details: list[InitErrorDetails] = []
    for error in exc.errors():
        detail: InitErrorDetails = {
            "type": error["type"],
            "loc": error["loc"],
            "input": _redact_value(error["input"]),
        }
        if "ctx" in error:
            detail["ctx"] = error["ctx"]
        details.append(detail)
    return ValidationError.from_exception_data(exc.title, details)


class _SourceModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class RtspSourceConfig(_SourceModel):
    """A live camera stream read over RTSP with PyAV.

    The URL may hold credentials; they never reach a log line, an error message or this
    model's ``repr``.
    """

    type: Literal["rtsp"] = Field(description="Source kind: an RTSP camera stream.")
    url: str = Field(
        min_length=8,
        max_length=2048,
        description="Stream URL, rtsp:// or rtsps://, optionally with user:password@.",
    )
    transport: Literal["tcp", "udp"] = "tcp"
    """RTP transport; TCP (interleaved) survives packet loss without smearing."""
    open_timeout_s: Annotated[float, Field(gt=0, le=120)] = 5.0
    """Give up connecting after this many seconds."""
    read_timeout_s: Annotated[float, Field(gt=0, le=120)] = 5.0
    """Treat the stream as dead when a read blocks this long."""
    watchdog_s: Annotated[float, Field(gt=0, le=3600)] = 10.0
    """Reopen a stream that delivered no frame for this many seconds (with decode: keyframes, no
    keyframe: keep this above the camera's keyframe interval).
    """
    backoff_initial_s: Annotated[float, Field(gt=0, le=300)] = 1.0
    """Wait before the first reconnect attempt."""
    backoff_max_s: Annotated[float, Field(gt=0, le=3600)] = 30.0
    """Longest wait between reconnect attempts (the wait doubles up to it)."""
    decode: Literal["all", "keyframes"] = "all"
    """all: decode every frame (needed above the camera's keyframe rate: road cameras at 5 fps);
    keyframes: drop packets undecoded until an analysis is due, then decode the next keyframe
    only (stationary cameras that look every few seconds; the analysis rate is then at most the
    keyframe rate, one per 1-2 s on most cameras). The default honours any analysis_fps;
    keyframes is opt-in.
    """
    fast_probe: bool = True
    """Shorten FFmpeg's stream probing (analyzeduration/probesize) so that opening takes well
    under 0.1 s instead of about 1 s; the codec comes from the SDP.
    """

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("rtsp", "rtsps"):
            raise ValueError(
                f"url must start with rtsp:// or rtsps://, got scheme {parts.scheme!r}"
            )
        if not parts.hostname:
            raise ValueError("url has no host")
        return url

    @model_validator(mode="after")
    def _check_timing(self) -> Self:
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError(
                f"backoff_max_s ({self.backoff_max_s}) must be >= backoff_initial_s "
                f"({self.backoff_initial_s})"
            )
        if self.read_timeout_s > self.watchdog_s:
            raise ValueError(
                f"read_timeout_s ({self.read_timeout_s}) must be <= watchdog_s "
                f"({self.watchdog_s}), or a silent stream outlives the watchdog"
            )
        return self

    @model_validator(mode="wrap")
    @classmethod
    def _redact_errors(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        try:
            return handler(data)
        except ValidationError as exc:
            raise _redacted_error(exc) from None

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, redact_text(value) if name == "url" else value


class FileSourceConfig(_SourceModel):
    """A local video file, for demos and tests."""

    type: Literal["file"] = Field(description="Source kind: a local video file.")
    path: Path = Field(description="The video file (anything FFmpeg reads: MP4, MKV, TS...).")
    loop: bool = False
    """Start again from the beginning at the end."""
    realtime: bool = False
    """Deliver frames at the file's own frame rate, like a camera (and drop stale frames like
    one); off: as fast as they are consumed, none dropped.
    """


def _redact_union_errors(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    try:
        return handler(value)
    except ValidationError as exc:
        raise _redacted_error(exc) from None


SourceConfig = Annotated[
    RtspSourceConfig | FileSourceConfig,
    Field(discriminator="type"),
    WrapValidator(_redact_union_errors),
]
"""Any source configuration, chosen by its ``type`` key (``rtsp`` or ``file``)."""
