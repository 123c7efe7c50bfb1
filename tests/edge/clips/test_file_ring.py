"""A looping file source feeds a packet ring too (the demo's camera): Annex B packets with
media time continuous across loops, cut into a playable clip across the loop's seam."""

from __future__ import annotations

import threading
from pathlib import Path

import av
import pytest

from edge.clips.remux import write_mp4
from edge.clips.ring import PacketRing
from edge.sources import FileSource, FileSourceConfig
from tests.support.rtsp_server import write_test_clip


def test_a_looping_file_fills_a_ring_that_cuts_across_the_seam(tmp_path: Path) -> None:
    clip = write_test_clip(tmp_path / "clip.mp4", frames=100, gop=25)  # 4 s, AVCC in MP4
    source = FileSource("cam-1", FileSourceConfig(type="file", path=clip, loop=True))
    ring = PacketRing(max_s=30.0, max_bytes=1 << 24)
    source.attach_ring(ring)
    frames = source.frames(threading.Event())
    first = next(frames)
    last = first
    for frame in frames:
        last = frame
        if (frame.ts - first.ts).total_seconds() >= 10.0:
            break
    frames.close()
    held = ring.stats()
    assert held.seconds == pytest.approx(10.0, abs=0.1) and held.refused == 0
    assert source.stats().packets_received >= 250
    start = first.ts.timestamp()
    cut = ring.window(start + 2.5, start + 6.5)  # the loop's seam is at 4 s
    assert cut.packets[0].captured_at == pytest.approx(start + 2.0, abs=0.05)
    mp4 = write_mp4(cut, tmp_path / "cut.mp4")
    with av.open(str(mp4.path)) as container:
        decoded = sum(1 for _ in container.decode(video=0))
        duration_s = float(container.duration or 0) / 1_000_000
    assert decoded == mp4.packets == 113  # 2.0 .. 6.48 s at 25 fps
    assert duration_s == pytest.approx(4.52, abs=0.05)
    assert last.ts.timestamp() - start >= 10.0
