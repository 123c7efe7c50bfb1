"""Remuxing ring packets to MP4: playable, every packet a frame, no re-encode, hashed."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import av
import pytest

from edge.clips.remux import RemuxError, write_mp4
from edge.clips.ring import ClipPackets, PacketRing
from tests.edge.clips.support import read_packets, write_ts_clip


@pytest.fixture(scope="module")
def packets(tmp_path_factory: pytest.TempPathFactory) -> ClipPackets:
    path = write_ts_clip(tmp_path_factory.mktemp("clip") / "clip.ts", seconds=6.0)
    info, packets = read_packets(path)
    ring = PacketRing(max_s=30.0, max_bytes=1 << 24)
    ring.begin(info)
    for packet in packets:
        ring.push(packet)
    return ring.window(1001.5, 1004.0)


def test_the_mp4_plays_with_every_packet_as_a_frame(packets: ClipPackets, tmp_path: Path) -> None:
    clip = write_mp4(packets, tmp_path / "clip.mp4")
    assert packets.packets[0].captured_at == pytest.approx(1001.0)  # the keyframe before
    data = clip.path.read_bytes()
    assert clip.sha256 == hashlib.sha256(data).hexdigest() and clip.byte_size == len(data)
    with av.open(str(clip.path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        assert container.format.name.startswith("mov,mp4")
        duration_s = float(container.duration or 0) / 1_000_000
    assert frames == clip.packets == len(packets.packets) == 76  # 3 s at 25 fps, both ends
    assert duration_s == pytest.approx(3.04, abs=0.05)
    assert clip.duration_s == pytest.approx(3.0)
    # no re-encode: each packet's slice (its last NAL unit) is in the file byte for byte
    for packet in packets.packets[:10]:
        assert packet.data.split(b"\x00\x00\x01")[-1] in data


def test_a_clip_must_start_at_a_keyframe(packets: ClipPackets, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="must start at a keyframe"):
        write_mp4(replace(packets, packets=packets.packets[1:]), tmp_path / "x.mp4")
    with pytest.raises(ValueError, match="at least one packet"):
        write_mp4(replace(packets, packets=[]), tmp_path / "x.mp4")


def test_other_codecs_are_refused_with_a_reason(packets: ClipPackets, tmp_path: Path) -> None:
    vp8 = replace(packets, info=replace(packets.info, codec_name="vp8"))
    with pytest.raises(RemuxError, match="cannot cut clips from 'vp8' streams"):
        write_mp4(vp8, tmp_path / "x.mp4")
