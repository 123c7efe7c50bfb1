"""Annex B H.264 packets from an encoded clip (MPEG-TS keeps the start codes RTSP gives)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from edge.clips.ring import EncodedPacket, StreamInfo


def write_ts_clip(path: Path, *, seconds: float, fps: int = 25, gop: int = 25) -> Path:
    """An H.264 MPEG-TS file with a moving square, a keyframe every ``gop`` frames."""
    width, height = 160, 96
    with av.open(str(path), "w", format="mpegts") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"bf": "0", "g": str(gop), "keyint_min": str(gop), "sc_threshold": "0"}
        for i in range(round(seconds * fps)):
            image = np.full((height, width, 3), 60, dtype=np.uint8)
            x = (i * 3) % (width - 16)
            image[40:56, x : x + 16] = (0, 0, 230)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def read_packets(path: Path, *, t0: float = 1000.0) -> tuple[StreamInfo, list[EncodedPacket]]:
    """The clip's stream info and packets, captured at ``t0`` + their dts."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        context = stream.codec_context
        time_base = Fraction(stream.time_base or Fraction(1, 90000))
        info = StreamInfo(
            context.name, context.width, context.height, time_base, bytes(context.extradata or b"")
        )
        packets: list[EncodedPacket] = []
        first: int | None = None
        for packet in container.demux(stream):
            if packet.size == 0 or packet.dts is None:
                continue
            first = packet.dts if first is None else first
            packets.append(
                EncodedPacket(
                    data=bytes(packet),
                    pts=packet.pts,
                    dts=packet.dts,
                    keyframe=bool(packet.is_keyframe),
                    captured_at=t0 + float((packet.dts - first) * time_base),
                )
            )
    return info, packets
