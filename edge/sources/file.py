"""Local video files as a frame source, for demos and tests.

Frames are stamped with *media time*: the UTC time the source started plus the frame's
position in the file (growing across loops). Rules that measure dwell time therefore see
the clip's own timing whether it is read in real time or as fast as possible.

A :class:`~edge.clips.ring.PacketRing` attached with :meth:`FileSource.attach_ring` gets each
video packet (event clips, as from a camera: the demo's): H.264 / H.265 packets of an MP4 are
turned into Annex B (FFmpeg's ``*_mp4toannexb`` filter), as RTSP gives them, and stamped with
the same media time as the frames, continuous across loops.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Generator, Iterator
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import av

from edge.clips.ring import EncodedPacket, PacketRing, StreamInfo
from edge.sources.base import SourceError, SourceState, SourceStats, SourceStatus
from edge.sources.config import FileSourceConfig
from edge.sources.decode import decode_packet, error_text
from edge.sources.redact import redact_text
from edge.sources.timing import Pacer
from edge.types import Frame

logger = logging.getLogger(__name__)

DEFAULT_FPS = 25.0
"""Frame rate assumed for files that do not declare one."""


class FileSource:
    """Frames from a local video file, once or in a loop, optionally paced in real time.

    Args:
        camera_id: The camera the frames are attributed to.
        config: Path, looping and pacing.
        start_ts: UTC time of media time 0 (default: when :meth:`frames` starts).

    Example:
        >>> cfg = FileSourceConfig(type="file", path="clip.mp4", loop=True)
        >>> FileSource("demo", cfg).live
        False
    """

    def __init__(
        self, camera_id: str, config: FileSourceConfig, *, start_ts: datetime | None = None
    ) -> None:
        if start_ts is not None and start_ts.tzinfo is None:
            raise ValueError("start_ts must be timezone-aware (UTC)")
        self.camera_id = camera_id
        self.config = config
        self.live = config.realtime
        self.describe = redact_text(str(config.path))
        self._start_ts = start_ts
        self._status = SourceStatus(camera_id, self.describe)
        self._ring: PacketRing | None = None

    def attach_ring(self, ring: PacketRing | None) -> None:
        """Copy every video packet into ``ring`` from the next pass (or packet) on."""
        self._ring = ring

    @property
    def state(self) -> SourceState:
        return self._status.state

    def stats(self) -> SourceStats:
        return self._status.snapshot()

    def _fail(self, problem: str) -> SourceError:
        message = f"camera {self.camera_id}: video file {self.describe}: {problem}"
        self._status.error(message)
        self._status.set_state(SourceState.FAILED)
        logger.error("%s", message)
        return SourceError(message)

    def _open(self) -> Any:
        path = self.config.path
        if not path.exists():
            raise self._fail("no such file")
        if not path.is_file():
            raise self._fail("not a regular file")
        try:
            container = av.open(str(path))
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise self._fail(f"cannot open as video ({error_text(exc)})") from None
        if not container.streams.video:
            container.close()
            raise self._fail("has no video stream")
        return container

    def frames(self, stop: threading.Event) -> Generator[Frame, None, None]:
        """Yield the file's frames (in a loop if configured) until ``stop`` is set.

        Args:
            stop: Set it to end the generator.

        Yields:
            Frames with ``seq`` counting from 0 across loops and ``ts`` in media time.

        Raises:
            SourceError: The file is missing, unreadable, has no video stream or no
                decodable frame (state ``failed``).
        """
        start_ts = self._start_ts or datetime.now(UTC)
        pacer: Pacer | None = None
        seq = 0
        offset_s = 0.0  # media time at which the current pass starts
        passes = 0
        self._status.set_state(SourceState.CONNECTING)
        try:
            while not stop.is_set():
                container = self._open()
                if passes:
                    logger.debug("camera %s: looping %s", self.camera_id, self.describe)
                passes += 1
                stream = container.streams.video[0]
                fps = float(stream.average_rate or stream.guessed_rate or DEFAULT_FPS)
                first_pts: int | None = None
                end_s = 0.0  # media time just after the last frame of this pass
                delivered = 0
                tap = _RingTap(self, stream, start_ts.timestamp() + offset_s, offset_s)
                try:
                    for av_frame in self._decode(container, stream, tap):
                        if first_pts is None and av_frame.pts is not None:
                            first_pts = av_frame.pts
                        rel_s = self._relative_s(av_frame, first_pts, stream.time_base)
                        if rel_s is None or rel_s < end_s - 1.0 / fps:  # no/odd pts: count
                            rel_s = end_s
                        media_s = offset_s + rel_s
                        end_s = rel_s + 1.0 / fps
                        if self.config.realtime:
                            if pacer is None:
                                pacer = Pacer(start=time.monotonic() - media_s)
                            if stop.wait(pacer.wait_s(media_s, time.monotonic())):
                                return
                        image = self._to_image(av_frame)
                        if image is None:
                            continue
                        ts = start_ts + timedelta(seconds=media_s)
                        frame = Frame(camera_id=self.camera_id, seq=seq, ts=ts, image=image)
                        seq += 1
                        delivered += 1
                        self._status.frame(ts)
                        if self._status.state is not SourceState.STREAMING:
                            self._status.set_state(SourceState.STREAMING)
                        yield frame
                        if stop.is_set():
                            return
                finally:
                    container.close()
                if delivered == 0:
                    raise self._fail("no decodable video frame")
                if not self.config.loop:
                    logger.info("camera %s: end of %s", self.camera_id, self.describe)
                    return
                offset_s += end_s
        finally:
            if self._status.state is not SourceState.FAILED:
                self._status.set_state(SourceState.STOPPED)

    @staticmethod
    def _relative_s(
        av_frame: Any, first_pts: int | None, time_base: Fraction | None
    ) -> float | None:
        if av_frame.pts is None or first_pts is None or time_base is None:
            return None
        return float((av_frame.pts - first_pts) * time_base)

    def _decode(self, container: Any, stream: Any, tap: _RingTap) -> Iterator[Any]:
        """Decoded frames of one pass; a read error mid-file ends the pass, logged."""
        try:
            for packet in container.demux(stream):
                decoded = decode_packet(packet, self._status, self.describe)
                if packet.size:
                    self._status.packet(datetime.now(UTC))
                    tap.push(packet)  # after decoding: the Annex B filter takes the packet
                yield from decoded
        except (av.error.FFmpegError, OSError) as exc:
            message = error_text(exc)
            self._status.error(f"read error: {message}")
            logger.warning(
                "camera %s: read error in %s, treating it as the end of the file: %s",
                self.camera_id,
                self.describe,
                message,
            )

    def _to_image(self, av_frame: Any) -> Any:
        try:
            return av_frame.to_ndarray(format="bgr24")
        except (av.error.FFmpegError, ValueError) as exc:
            count = self._status.decode_error()
            logger.warning(
                "camera %s: skipped a frame of %s that failed to convert (%d so far): %s",
                self.camera_id,
                self.describe,
                count,
                error_text(exc),
            )
            return None


class _RingTap:
    """Copies one pass's packets into the source's ring (if one is attached)."""

    def __init__(self, source: FileSource, stream: Any, pass_start_s: float, offset_s: float):
        self.source = source
        self.stream = stream
        self.pass_start_s = pass_start_s
        self.time_base = Fraction(stream.time_base or Fraction(1, 90000))
        self.offset_ticks = round(offset_s / self.time_base)
        self.first_dts: int | None = None
        self.ring: PacketRing | None = None
        self.annexb: Any = None
        self.info: StreamInfo | None = None

    def _start(self, ring: PacketRing) -> None:
        context = self.stream.codec_context
        extradata = bytes(context.extradata or b"")
        if context.name in ("h264", "hevc") and extradata[:1] == b"\x01":  # length-prefixed
            self.annexb = av.bitstream.BitStreamFilterContext(
                f"{context.name}_mp4toannexb", self.stream
            )
            extradata = b""  # the filter puts the parameter sets before each keyframe
        self.info = StreamInfo(
            context.name, context.width, context.height, self.time_base, extradata
        )
        if ring.stats().pushed == 0 or self.offset_ticks == 0:
            ring.begin(self.info)  # a new ring; later passes go on in the same one
        self.ring = ring

    def push(self, packet: Any) -> None:
        ring = self.source._ring
        if ring is None:
            return
        if ring is not self.ring:
            self._start(ring)
        packets = self.annexb.filter(packet) if self.annexb is not None else [packet]
        for out in packets:
            dts = out.dts if out.dts is not None else out.pts
            if dts is None:
                continue
            if self.first_dts is None:
                self.first_dts = dts
            rel = dts - self.first_dts
            pts = out.pts if out.pts is not None else dts
            ring.push(
                EncodedPacket(
                    data=bytes(out),
                    pts=self.offset_ticks + pts - self.first_dts,
                    dts=self.offset_ticks + rel,
                    keyframe=bool(out.is_keyframe),
                    captured_at=self.pass_start_s + float(rel * self.time_base),
                )
            )
