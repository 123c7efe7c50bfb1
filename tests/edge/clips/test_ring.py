"""The packet ring: bounded by seconds and bytes, always starting at a keyframe."""

from __future__ import annotations

from fractions import Fraction

import pytest

from edge.clips.ring import EncodedPacket, NoKeyframeError, PacketRing, StreamInfo

INFO = StreamInfo("h264", 320, 240, Fraction(1, 90000), b"")


def _packets(seconds: float, *, fps: int = 10, gop: int = 10) -> list[EncodedPacket]:
    return [
        EncodedPacket(
            data=bytes(100),
            pts=i * 9000,
            dts=i * 9000,
            keyframe=i % gop == 0,
            captured_at=1000.0 + i / fps,
        )
        for i in range(round(seconds * fps))
    ]


def _ring(max_s: float = 30.0, max_bytes: int = 1 << 20) -> PacketRing:
    ring = PacketRing(max_s=max_s, max_bytes=max_bytes)
    ring.begin(INFO)
    return ring


def test_empty_ring_has_no_keyframe() -> None:
    with pytest.raises(NoKeyframeError, match="buffer is empty"):
        _ring().window(0.0, 1.0)


def test_a_ring_starts_at_a_keyframe() -> None:
    ring = _ring()
    for packet in _packets(3.0)[5:]:  # joins mid-GOP, as after a connect
        ring.push(packet)
    stats = ring.stats()
    assert (stats.refused, stats.packets) == (5, 20)
    assert ring.window(1001.0, 1002.0).packets[0].captured_at == 1001.0


def test_bounded_by_seconds_dropping_whole_gops() -> None:
    ring = _ring(max_s=2.5)
    for packet in _packets(10.0):
        ring.push(packet)
        assert ring.stats().seconds <= 2.5
    clip = ring.window(0.0, 2000.0)
    assert clip.packets[0].keyframe
    assert clip.packets[0].captured_at == pytest.approx(1008.0)  # whole GOPs only
    assert clip.late_start_s == pytest.approx(1008.0)


def test_bounded_by_bytes() -> None:
    ring = _ring(max_bytes=2500)
    for packet in _packets(10.0):
        ring.push(packet)
        assert ring.stats().bytes <= 2500
    assert ring.stats().packets == 20  # two whole GOPs of 1000 bytes fit


def test_window_starts_at_the_last_keyframe_before_the_start() -> None:
    ring = _ring()
    for packet in _packets(6.0):
        ring.push(packet)
    clip = ring.window(1002.35, 1004.0)
    assert clip.packets[0].captured_at == pytest.approx(1002.0)
    assert clip.packets[-1].captured_at == pytest.approx(1004.0)
    assert clip.late_start_s == 0.0
    assert [p.keyframe for p in clip.packets].count(True) == 3


def test_no_keyframe_before_the_end() -> None:
    ring = _ring()
    for packet in _packets(3.0):
        ring.push(packet)
    with pytest.raises(NoKeyframeError, match=r"no keyframe at or before 999\.0"):
        ring.window(990.0, 999.0)
    with pytest.raises(ValueError, match="before its start"):
        ring.window(1001.0, 1000.0)


def test_a_new_connection_starts_a_new_ring() -> None:
    ring = _ring()
    for packet in _packets(3.0):
        ring.push(packet)
    ring.begin(INFO)
    assert ring.stats().packets == 0


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        PacketRing(max_s=0, max_bytes=10)
