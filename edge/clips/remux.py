"""Packets to an MP4 file with PyAV: a remux (new container, same bytes), no decode, no encode.

The packets are Annex B (start codes), as FFmpeg's RTSP demuxer gives H.264 and H.265. The
MP4 stream's codec parameters come from a template: the stream's parameter sets and the
clip's first keyframe read back by FFmpeg's raw ``h264`` / ``hevc`` demuxer (setting them on
a new stream by hand would open an encoder, whose own parameter sets would not match the
packets).

Example:
    >>> clip = write_mp4(ring.window(start_s, end_s), Path("spool/clip.mp4"))  # doctest: +SKIP
    >>> clip.sha256, clip.duration_s  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from edge.clips.ring import ClipPackets, StreamInfo

RAW_FORMATS: dict[str, str] = {"h264": "h264", "hevc": "hevc"}
"""Codecs a clip can be cut from, with FFmpeg's raw (Annex B) format for each."""


class RemuxError(RuntimeError):
    """FFmpeg refused the packets (the message says why)."""


@dataclass(frozen=True, slots=True)
class Mp4Clip:
    """An MP4 clip on disk.

    Attributes:
        path: The file.
        byte_size: Its size.
        sha256: The hash of its bytes.
        packets: Video packets (frames) in it.
        start_s: Capture time of its first frame, seconds since the epoch.
        duration_s: Capture time of the last frame minus the first.
        late_start_s: How much later than asked it starts (the buffer did not reach back).
    """

    path: Path
    byte_size: int
    sha256: str
    packets: int
    start_s: float
    duration_s: float
    late_start_s: float


def _timestamps(clip: ClipPackets) -> list[tuple[int, int]]:
    """(pts, dts) per packet, rebased to start at 0; missing ones from the capture time."""
    time_base = clip.info.time_base
    first = clip.packets[0]
    origin = first.dts if first.dts is not None else first.pts
    stamped: list[tuple[int, int]] = []
    last_dts = -1
    for packet in clip.packets:
        if origin is None or (packet.dts is None and packet.pts is None):
            ticks = round((packet.captured_at - first.captured_at) / time_base)
            pts = dts = ticks
        else:
            dts_raw = packet.dts if packet.dts is not None else packet.pts
            pts_raw = packet.pts if packet.pts is not None else packet.dts
            assert dts_raw is not None and pts_raw is not None
            dts, pts = dts_raw - origin, pts_raw - origin
        dts = max(dts, last_dts + 1)  # the muxer needs strictly increasing dts
        pts = max(pts, dts)
        last_dts = dts
        stamped.append((pts, dts))
    return stamped


def _template(info: StreamInfo, keyframe: bytes) -> Any:
    """An open raw-stream input whose video stream carries the packets' codec parameters."""
    raw_format = RAW_FORMATS.get(info.codec_name)
    if raw_format is None:
        raise RemuxError(
            f"cannot cut clips from {info.codec_name!r} streams (only {', '.join(RAW_FORMATS)})"
        )
    if info.extradata[:1] == b"\x01":
        raise RemuxError("the packets are length-prefixed (MP4 style), not Annex B as RTSP gives")
    try:
        return av.open(io.BytesIO(info.extradata + keyframe), format=raw_format)
    except (av.error.FFmpegError, ValueError) as exc:
        raise RemuxError(f"cannot read the stream's parameter sets: {exc}") from exc


def write_mp4(clip: ClipPackets, path: Path) -> Mp4Clip:
    """Mux ``clip``'s packets into the MP4 file ``path`` (``+faststart``: the index first,
    so a browser plays it while it downloads; FFmpeg rewrites the file for that, so it is
    a file, not a buffer).

    Raises:
        ValueError: ``clip`` holds no packet or does not start at a keyframe.
        RemuxError: FFmpeg refused the stream or a packet.
    """
    if not clip.packets:
        raise ValueError("a clip needs at least one packet")
    if not clip.packets[0].keyframe:
        raise ValueError("a clip must start at a keyframe")
    info = clip.info
    template = _template(info, clip.packets[0].data)
    try:
        with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as output:
            stream = output.add_stream_from_template(template.streams.video[0])
            stream.time_base = info.time_base
            for packet, (pts, dts) in zip(clip.packets, _timestamps(clip), strict=True):
                out = av.Packet(packet.data)
                out.pts, out.dts = pts, dts
                out.time_base = info.time_base
                out.is_keyframe = packet.keyframe
                out.stream = stream
                output.mux(out)
    except (av.error.FFmpegError, ValueError, IndexError) as exc:
        raise RemuxError(f"cannot write the {info.codec_name} packets as MP4: {exc}") from exc
    finally:
        template.close()
    data = path.read_bytes()
    return Mp4Clip(
        path=path,
        byte_size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        packets=len(clip.packets),
        start_s=clip.start_s,
        duration_s=clip.end_s - clip.start_s,
        late_start_s=clip.late_start_s,
    )
