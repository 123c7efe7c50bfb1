"""The last seconds of a camera's encoded stream: packets as they came, never decoded.

The RTSP reader hands every demuxed video packet to its camera's :class:`PacketRing`
(:meth:`edge.sources.RtspSource.attach_ring`) before it decides whether to decode it, so a
clip costs a copy of the packet bytes and nothing else. The ring is bounded by seconds and
by bytes and always starts at a keyframe (a decoder can start nowhere else): trimming the
oldest packet drops the rest of its group of pictures with it, and a packet that is not a
keyframe is not taken into an empty ring. A new connection (reconnect) starts a new ring:
its timestamps start again.

:meth:`PacketRing.window` cuts the packets of a clip out of it: from the last keyframe at or
before the clip's start to the clip's end (capture times, seconds since the epoch).

Example:
    >>> ring = PacketRing(max_s=30.0, max_bytes=1 << 20)
    >>> ring.begin(StreamInfo("h264", 320, 240, Fraction(1, 90000), b""))
    >>> ring.push(EncodedPacket(b"k", pts=0, dts=0, keyframe=True, captured_at=100.0))
    >>> ring.push(EncodedPacket(b"p", pts=3600, dts=3600, keyframe=False, captured_at=100.04))
    >>> len(ring.window(100.0, 101.0).packets)
    2
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from fractions import Fraction


class NoKeyframeError(LookupError):
    """The ring holds no keyframe a clip could start from; the message says what it holds."""


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """What a muxer needs to know about the stream the packets came from.

    Attributes:
        codec_name: FFmpeg's codec name (``h264``, ``hevc``).
        width: Coded width in pixels.
        height: Coded height in pixels.
        time_base: Unit of the packets' ``pts`` and ``dts``.
        extradata: The codec's parameter sets (SPS/PPS) as the demuxer gave them.
    """

    codec_name: str
    width: int
    height: int
    time_base: Fraction
    extradata: bytes


@dataclass(frozen=True, slots=True)
class EncodedPacket:
    """One demuxed video packet, copied.

    Attributes:
        data: The encoded bytes.
        pts: Presentation time in the stream's time base (``None`` when the stream gave none).
        dts: Decoding time, likewise.
        keyframe: Whether a decoder can start here.
        captured_at: Capture time, seconds since the epoch (the stream's timestamps anchored
            to the wall clock).
    """

    data: bytes
    pts: int | None
    dts: int | None
    keyframe: bool
    captured_at: float


@dataclass(frozen=True, slots=True)
class ClipPackets:
    """The packets of one clip and the stream they belong to.

    Attributes:
        info: The stream.
        packets: From a keyframe on, in decoding order.
        late_start_s: How much later than asked the clip starts (the ring did not reach
            back far enough); 0 when it covers the start.
    """

    info: StreamInfo
    packets: list[EncodedPacket]
    late_start_s: float

    @property
    def start_s(self) -> float:
        return self.packets[0].captured_at

    @property
    def end_s(self) -> float:
        return self.packets[-1].captured_at


@dataclass(frozen=True, slots=True)
class RingStats:
    """What a ring holds now and has seen (for health and the benchmark)."""

    packets: int
    bytes: int
    seconds: float
    pushed: int
    trimmed: int
    refused: int
    newest_s: float | None = None


class PacketRing:
    """A bounded, thread-safe buffer of one camera's latest encoded packets.

    Args:
        max_s: Most seconds of stream kept (capture time of the newest minus the oldest).
        max_bytes: Most packet bytes kept.
    """

    def __init__(self, max_s: float, max_bytes: int) -> None:
        if max_s <= 0 or max_bytes <= 0:
            raise ValueError(f"max_s and max_bytes must be positive, got {max_s}, {max_bytes}")
        self.max_s = max_s
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._packets: deque[EncodedPacket] = deque()
        self._bytes = 0
        self._info: StreamInfo | None = None
        self._pushed = 0
        self._trimmed = 0
        self._refused = 0

    def begin(self, info: StreamInfo) -> None:
        """A new connection: forget the packets of the previous one (their clock ends)."""
        with self._lock:
            self._packets.clear()
            self._bytes = 0
            self._info = info

    def push(self, packet: EncodedPacket) -> None:
        """Keep ``packet``; trim whole groups of pictures from the front to stay in bounds."""
        with self._lock:
            self._pushed += 1
            if self._info is None or (not self._packets and not packet.keyframe):
                self._refused += 1  # a ring starts at a keyframe
                return
            self._packets.append(packet)
            self._bytes += len(packet.data)
            packets = self._packets
            while packets and (
                self._bytes > self.max_bytes
                or packets[-1].captured_at - packets[0].captured_at > self.max_s
            ):
                self._drop_oldest()
                while packets and not packets[0].keyframe:
                    self._drop_oldest()

    def _drop_oldest(self) -> None:
        oldest = self._packets.popleft()
        self._bytes -= len(oldest.data)
        self._trimmed += 1

    def stats(self) -> RingStats:
        with self._lock:
            seconds = (
                self._packets[-1].captured_at - self._packets[0].captured_at
                if self._packets
                else 0.0
            )
            return RingStats(
                packets=len(self._packets),
                bytes=self._bytes,
                seconds=seconds,
                pushed=self._pushed,
                trimmed=self._trimmed,
                refused=self._refused,
                newest_s=self._packets[-1].captured_at if self._packets else None,
            )

    def window(self, start_s: float, end_s: float) -> ClipPackets:
        """The packets from the last keyframe at or before ``start_s`` to ``end_s``.

        When the ring does not reach back to ``start_s`` the clip starts at its first
        keyframe (``late_start_s`` says by how much).

        Raises:
            NoKeyframeError: No keyframe at or before ``end_s`` is held (an empty ring, a
                stream that just reconnected, or one whose keyframes are further apart than
                the ring holds).
            ValueError: ``end_s`` is before ``start_s``.
        """
        if end_s < start_s:
            raise ValueError(f"clip end {end_s} is before its start {start_s}")
        with self._lock:
            info = self._info
            packets = list(self._packets)
        if info is None or not packets:
            raise NoKeyframeError("the stream buffer is empty (no keyframe received yet)")
        first = None
        for index, packet in enumerate(packets):
            if packet.captured_at > end_s:
                break
            if packet.keyframe and (first is None or packet.captured_at <= start_s):
                first = index
        if first is None:
            held = f"{packets[0].captured_at:.1f}..{packets[-1].captured_at:.1f}"
            raise NoKeyframeError(
                f"no keyframe at or before {end_s:.1f} in the buffered stream ({held})"
            )
        chosen = [p for p in packets[first:] if p.captured_at <= end_s]
        late = max(0.0, chosen[0].captured_at - start_s)
        return ClipPackets(info=info, packets=chosen, late_start_s=late)
