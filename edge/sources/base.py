"""What every frame source shares: its state machine, its counters and its interface."""

from __future__ import annotations

import logging
import threading
from collections.abc import Generator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from edge.sources.timing import RateLimiter
from edge.types import Frame

logger = logging.getLogger(__name__)


class SourceState(StrEnum):
    """Where a source is in its life.

    ``connecting`` -> ``streaming`` -> (``backing_off`` -> ``connecting`` ...) ->
    ``stopped``; ``failed`` when it cannot go on (a missing or undecodable file).
    """

    IDLE = "idle"
    CONNECTING = "connecting"
    STREAMING = "streaming"
    BACKING_OFF = "backing_off"
    STOPPED = "stopped"
    FAILED = "failed"


class SourceError(RuntimeError):
    """A source cannot deliver frames; the message names the camera and the cause.

    Messages are already free of credentials.
    """


@dataclass(frozen=True, slots=True)
class SourceStats:
    """A snapshot of a source's state and counters.

    Attributes:
        camera_id: The camera.
        state: The state at the time of the snapshot.
        frames_decoded: Frames out of the decoder since the source started.
        frames_delivered: Frames converted to images and yielded.
        frames_not_due: Frames passed over because no analysis was due: packets dropped
            without decoding (``decode: keyframes``) or decoded frames not converted.
        decode_errors: Packets or frames that failed to decode and were skipped.
        reconnects: Connection attempts after the first (RTSP) or reopenings (file loops
            are not counted).
        last_error: The latest error, without credentials; ``None`` if none yet.
        last_frame_at: UTC time of the latest frame, ``None`` before the first.
        packets_received: Video packets read from the stream (decoded or not): what a
            camera sends, for health.
        last_packet_at: When the latest packet was read (UTC wall clock), ``None`` before
            the first: a stream that still sends is alive even when no frame is due.
    """

    camera_id: str
    state: SourceState
    frames_decoded: int
    frames_delivered: int
    frames_not_due: int
    decode_errors: int
    reconnects: int
    last_error: str | None
    last_frame_at: datetime | None
    packets_received: int = 0
    last_packet_at: datetime | None = None


@runtime_checkable
class FrameSource(Protocol):
    """A camera or file that yields :class:`edge.types.Frame` objects.

    Attributes:
        camera_id: The camera the frames belong to.
        live: True when frames arrive at the source's pace whether or not anyone reads
            them (a camera; a file in real-time mode): a reader should drop stale ones.
    """

    camera_id: str
    live: bool

    @property
    def state(self) -> SourceState: ...

    def stats(self) -> SourceStats:
        """A snapshot of the state and counters (thread-safe)."""
        ...

    def frames(self, stop: threading.Event) -> Generator[Frame, None, None]:
        """Yield frames until ``stop`` is set, the source ends, or it fails.

        Raises:
            SourceError: The source failed for good (state ``failed``).
        """
        ...


@runtime_checkable
class GatedSource(Protocol):
    """A source that applies the analysis rate itself, before decoding or converting.

    A reader hands it its rate limiter; the source then yields only frames the limiter
    admitted, and skips the work for the others (an RTSP camera: no BGR conversion of a
    frame that is not due, or with ``decode: keyframes`` no decoding at all).
    """

    def gate(self, limiter: RateLimiter) -> None:
        """Admit frames through ``limiter`` (called once, before :meth:`frames`)."""
        ...


class SourceStatus:
    """Thread-safe mutable state and counters behind :class:`SourceStats`.

    The capture thread writes, any thread reads a snapshot with :meth:`snapshot`.
    """

    def __init__(self, camera_id: str, describe: str) -> None:
        self.camera_id = camera_id
        self._describe = describe
        self._lock = threading.Lock()
        self._state = SourceState.IDLE
        self.frames_decoded = 0
        self.frames_delivered = 0
        self.frames_not_due = 0
        self.decode_errors = 0
        self.reconnects = 0
        self.last_error: str | None = None
        self.last_frame_at: datetime | None = None
        self.packets_received = 0
        self.last_packet_at: datetime | None = None

    @property
    def state(self) -> SourceState:
        return self._state

    def set_state(self, state: SourceState) -> None:
        with self._lock:
            previous, self._state = self._state, state
        if previous != state:
            logger.info("camera %s (%s): %s -> %s", self.camera_id, self._describe, previous, state)

    def frame(self, ts: datetime, *, decoded: bool = True) -> None:
        """A frame was delivered (and counts as decoded unless ``decoded`` is false: it
        was counted by :meth:`decoded` already)."""
        with self._lock:
            self.frames_decoded += int(decoded)
            self.frames_delivered += 1
            self.last_frame_at = ts

    def packet(self, at: datetime) -> None:
        """A video packet was read (before any decision to decode it)."""
        with self._lock:
            self.packets_received += 1
            self.last_packet_at = at

    def decoded(self) -> None:
        """A frame came out of the decoder (delivered or not)."""
        with self._lock:
            self.frames_decoded += 1

    def not_due(self) -> None:
        """A frame (or an undecoded packet) was passed over: no analysis was due."""
        with self._lock:
            self.frames_not_due += 1

    def decode_error(self) -> int:
        with self._lock:
            self.decode_errors += 1
            return self.decode_errors

    def reconnect(self) -> None:
        with self._lock:
            self.reconnects += 1

    def error(self, message: str) -> None:
        with self._lock:
            self.last_error = message

    def snapshot(self) -> SourceStats:
        with self._lock:
            return SourceStats(
                camera_id=self.camera_id,
                state=self._state,
                frames_decoded=self.frames_decoded,
                frames_delivered=self.frames_delivered,
                frames_not_due=self.frames_not_due,
                decode_errors=self.decode_errors,
                reconnects=self.reconnects,
                last_error=self.last_error,
                last_frame_at=self.last_frame_at,
                packets_received=self.packets_received,
                last_packet_at=self.last_packet_at,
            )
