"""Live camera streams over RTSP, read with PyAV (FFmpeg).

One :class:`RtspSource` per camera. Its :meth:`~RtspSource.frames` generator connects,
decodes, and when the stream fails (refused, timed out, ended, silent for ``watchdog_s``)
backs off exponentially and reconnects, until the stop event is set. It never raises for
a camera problem; the state and counters tell what is happening.

A :class:`~edge.clips.ring.PacketRing` attached with :meth:`RtspSource.attach_ring` gets a
copy of every video packet before the decision to decode it (event clips: no re-encode).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Generator, Iterator
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

import av

from edge.clips.ring import EncodedPacket, PacketRing, StreamInfo
from edge.sources.base import SourceError, SourceState, SourceStats, SourceStatus
from edge.sources.config import RtspSourceConfig
from edge.sources.decode import decode_packet, error_text
from edge.sources.redact import redact_url
from edge.sources.timing import Backoff, CaptureClock, KeyframeInterval, RateLimiter, Watchdog
from edge.types import Frame

logger = logging.getLogger(__name__)

FAST_PROBE_OPTIONS: dict[str, str] = {"analyzeduration": "100000", "probesize": "32"}
"""FFmpeg probe limits that bring ``av.open`` on RTSP from about 1 s to well under 0.1 s.

``analyzeduration`` is in microseconds (``0`` would mean FFmpeg's default of 5 s);
``probesize`` in bytes (32 is the minimum). An RTSP camera announces its codec and its
parameter sets in the SDP, so nothing more needs probing.
"""


class _StreamLostError(Exception):
    """The open stream stopped delivering (ended, silent, or broken)."""


class RtspSource:
    """A live RTSP camera stream.

    Args:
        camera_id: The camera the frames belong to.
        config: URL, transport, timeouts, watchdog and backoff.

    Example:
        >>> cfg = RtspSourceConfig(type="rtsp", url="rtsp://u:p@127.0.0.1:8554/cam")
        >>> src = RtspSource("cam-1", cfg)
        >>> src.describe, src.state
        ('rtsp://***@127.0.0.1:8554/cam', <SourceState.IDLE: 'idle'>)
    """

    live = True

    def __init__(self, camera_id: str, config: RtspSourceConfig) -> None:
        self.camera_id = camera_id
        self.config = config
        self.describe = redact_url(config.url)
        self._status = SourceStatus(camera_id, self.describe)
        self._seq = 0
        self._limiter: RateLimiter | None = None
        self._slow_keyframes_warned = False
        self._ring: PacketRing | None = None

    def attach_ring(self, ring: PacketRing | None) -> None:
        """Copy every video packet into ``ring`` from the next one on (``None``: stop).

        Safe to call while the source runs; the ring starts afresh at the next connection
        or keyframe.
        """
        self._ring = ring

    @property
    def state(self) -> SourceState:
        return self._status.state

    def stats(self) -> SourceStats:
        return self._status.snapshot()

    def gate(self, limiter: RateLimiter) -> None:
        """Yield only frames ``limiter`` admits; skip the work for the others.

        Frames not due are not converted to images (``decode: all``) or, with ``decode:
        keyframes``, their packets are dropped without decoding. Call before :meth:`frames`.
        """
        self._limiter = limiter

    def av_options(self) -> dict[str, str]:
        """The FFmpeg options ``av.open`` gets (transport, probing)."""
        options: dict[str, str] = {"rtsp_transport": self.config.transport}
        if self.config.fast_probe:
            options.update(FAST_PROBE_OPTIONS)
        return options

    def open(self) -> Any:
        """Connect once; returns an open ``av`` input container.

        Raises:
            SourceError: Connecting failed (message without credentials).
        """
        started = time.monotonic()
        try:
            return av.open(
                self.config.url,
                options=self.av_options(),
                timeout=(self.config.open_timeout_s, self.config.read_timeout_s),
            )
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            reason = error_text(exc)
            if time.monotonic() - started >= 0.95 * self.config.open_timeout_s:
                reason = f"no answer within {self.config.open_timeout_s:g} s ({reason})"
            raise SourceError(
                f"camera {self.camera_id}: cannot open {self.describe}: {reason}"
            ) from None

    def frames(self, stop: threading.Event) -> Generator[Frame, None, None]:
        """Yield frames until ``stop`` is set, reconnecting for as long as it takes.

        Args:
            stop: Set it to end the generator (within ``read_timeout_s`` at worst).

        Yields:
            Frames with increasing ``seq`` (kept across reconnects) and their capture
            time as ``ts`` (UTC: the stream's timestamps anchored to the wall clock, see
            :class:`~edge.sources.timing.CaptureClock`), so that a frame that waited
            before it was decoded keeps the time it was taken.
        """
        backoff = Backoff(self.config.backoff_initial_s, self.config.backoff_max_s)
        attempts = 0
        try:
            while not stop.is_set():
                if attempts:
                    self._status.reconnect()
                attempts += 1
                self._status.set_state(SourceState.CONNECTING)
                try:
                    container = self.open()
                except SourceError as exc:
                    self._back_off(str(exc), backoff, stop)
                    continue
                try:
                    yield from self._stream(container, backoff, stop)
                except _StreamLostError as exc:
                    self._back_off(
                        f"camera {self.camera_id}: stream {self.describe} lost: {exc}",
                        backoff,
                        stop,
                    )
                finally:
                    container.close()
        finally:
            self._status.set_state(SourceState.STOPPED)

    def _back_off(self, message: str, backoff: Backoff, stop: threading.Event) -> None:
        self._status.error(message)
        self._status.set_state(SourceState.BACKING_OFF)
        now = time.monotonic()
        delay_s = backoff.on_failure(now) - now
        logger.warning("%s; retrying in %.1f s", message, delay_s)
        stop.wait(delay_s)

    def _stream(self, container: Any, backoff: Backoff, stop: threading.Event) -> Iterator[Frame]:
        if not container.streams.video:
            raise _StreamLostError("the stream has no video track")
        stream = container.streams.video[0]
        keyframes = self.config.decode == "keyframes"
        if keyframes:
            stream.codec_context.skip_frame = "NONKEY"
            # One thread: a lone keyframe comes out of the decoder at once, and a box with
            # many cameras gets its parallelism from the cameras.
            stream.codec_context.thread_count = 1
        time_base = float(stream.time_base) if stream.time_base is not None else None
        clock, gop = CaptureClock(), KeyframeInterval()
        ring_clock, ring = CaptureClock(), self._ring
        if ring is not None:
            ring.begin(_stream_info(stream))
        watchdog = Watchdog(self.config.watchdog_s, last_fed=time.monotonic())
        logger.info(
            "camera %s: opened %s (%s %sx%s, decode %s)",
            self.camera_id,
            self.describe,
            stream.codec_context.name,
            stream.codec_context.width,
            stream.codec_context.height,
            self.config.decode,
        )
        try:
            for packet in container.demux(stream):
                if stop.is_set():
                    return
                if packet.size == 0:  # the demuxer's flush packet: the stream ended
                    raise _StreamLostError("end of stream")
                now = time.time()
                self._status.packet(datetime.fromtimestamp(now, UTC))
                if self._ring is not ring:  # attached (or detached) while streaming
                    ring = self._ring
                    if ring is not None:
                        ring.begin(_stream_info(stream))
                if ring is not None:
                    ring.push(_copy(packet, time_base, ring_clock, now))
                if watchdog.expired(time.monotonic()):
                    raise _StreamLostError(
                        f"watchdog: no frame for {watchdog.silent_for(time.monotonic()):.1f} s"
                    )
                if keyframes and not self._keyframe_due(packet, time_base, clock, gop, watchdog):
                    continue
                for av_frame in decode_packet(packet, self._status, self.describe):
                    frame = self._admit(av_frame, time_base, clock, gop.early_s if keyframes else 0)
                    if frame is None:
                        continue
                    watchdog.feed(time.monotonic())
                    if self._status.state is not SourceState.STREAMING:
                        backoff.on_success()
                        self._status.set_state(SourceState.STREAMING)
                    yield frame
                    if stop.is_set():
                        return
        except av.error.ExitError:
            raise _StreamLostError(
                f"no data for {self.config.read_timeout_s:g} s (read timeout)"
            ) from None
        except (av.error.FFmpegError, OSError) as exc:
            raise _StreamLostError(error_text(exc)) from None
        raise _StreamLostError("end of stream")

    def _keyframe_due(
        self,
        packet: Any,
        time_base: float | None,
        clock: CaptureClock,
        gop: KeyframeInterval,
        watchdog: Watchdog,
    ) -> bool:
        """With ``decode: keyframes``: whether to decode ``packet`` (a keyframe, due)."""
        if not packet.is_keyframe:
            self._status.not_due()
            return False
        media_s = _seconds(packet.pts, time_base)
        interval_s = gop.seen(media_s)
        if self._limiter is None:
            return True
        if (
            interval_s is not None
            and not self._slow_keyframes_warned
            and interval_s > 1.5 * self._limiter.period_s
        ):
            self._slow_keyframes_warned = True
            logger.warning(
                "camera %s: keyframes come every %.1f s, but analysis_fps asks for a frame "
                "every %.1f s; with decode: keyframes the rate cannot be held (use decode: all "
                "or a lower analysis_fps)",
                self.camera_id,
                interval_s,
                self._limiter.period_s,
            )
        if self._limiter.due(clock.capture_time(media_s, time.time()), gop.early_s):
            return True
        self._status.not_due()
        watchdog.feed(time.monotonic())  # a keyframe arrived intact: the stream is alive
        return False

    def _admit(
        self, av_frame: Any, time_base: float | None, clock: CaptureClock, early_s: float
    ) -> Frame | None:
        """The decoded frame as a :class:`Frame` when it is due (else counted, ``None``)."""
        t = clock.capture_time(_seconds(av_frame.pts, time_base), time.time())
        if self._limiter is not None and not self._limiter.admit(t, early_s):
            self._status.decoded()
            self._status.not_due()
            return None
        return self._to_frame(av_frame, t)

    def _to_frame(self, av_frame: Any, capture_t: float) -> Frame | None:
        try:
            image = av_frame.to_ndarray(format="bgr24")
        except (av.error.FFmpegError, ValueError) as exc:
            self._status.decoded()
            count = self._status.decode_error()
            logger.warning(
                "camera %s (%s): skipped a frame that failed to convert (%d so far): %s",
                self.camera_id,
                self.describe,
                count,
                error_text(exc),
            )
            return None
        ts = datetime.fromtimestamp(capture_t, UTC)
        frame = Frame(camera_id=self.camera_id, seq=self._seq, ts=ts, image=image)
        self._seq += 1
        self._status.frame(ts)
        return frame


def _stream_info(stream: Any) -> StreamInfo:
    context = stream.codec_context
    return StreamInfo(
        codec_name=context.name,
        width=context.width,
        height=context.height,
        time_base=Fraction(stream.time_base or Fraction(1, 90000)),
        extradata=bytes(context.extradata or b""),
    )


def _copy(packet: Any, time_base: float | None, clock: CaptureClock, now: float) -> EncodedPacket:
    """A copy of ``packet`` for the ring, stamped with its capture time (from its dts)."""
    media_s = _seconds(packet.dts if packet.dts is not None else packet.pts, time_base)
    return EncodedPacket(
        data=bytes(packet),
        pts=packet.pts,
        dts=packet.dts,
        keyframe=bool(packet.is_keyframe),
        captured_at=clock.capture_time(media_s, now),
    )


def _seconds(pts: int | None, time_base: float | None) -> float | None:
    """A media timestamp in seconds, or ``None`` when the stream gave none."""
    if pts is None or time_base is None:
        return None
    return pts * time_base
