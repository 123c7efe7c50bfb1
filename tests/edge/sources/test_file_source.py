from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from itertools import islice, pairwise
from pathlib import Path

import numpy as np
import pytest

from edge.sources import FileSource, FileSourceConfig, SourceError, SourceState
from edge.types import Frame
from tests.edge.sources.conftest import CLIP_FPS, CLIP_FRAMES, CLIP_WH

START = datetime(2025, 3, 1, 8, 0, 0, tzinfo=UTC)


def _source(path: Path, *, loop: bool = False, realtime: bool = False) -> FileSource:
    cfg = FileSourceConfig(type="file", path=path, loop=loop, realtime=realtime)
    return FileSource("cam-file", cfg, start_ts=START)


def _square_x(frame: Frame) -> float:
    """Column of the red square's centre (red: BGR (0, 0, 230))."""
    red = (frame.image[:, :, 2] > 180) & (frame.image[:, :, 1] < 80)
    return float(np.nonzero(red)[1].mean())


def _expected_square_x(clip_index: int) -> float:
    width, height = CLIP_WH
    side = max(8, height // 6)
    return (width - side) * (clip_index % 50) / 49 + side / 2


def test_reads_every_frame_once_with_seq_and_utc_media_time(clip: Path) -> None:
    source = _source(clip)
    frames = list(source.frames(threading.Event()))
    assert [f.seq for f in frames] == list(range(CLIP_FRAMES))
    assert all(f.camera_id == "cam-file" for f in frames)
    assert all(f.resolution_wh == CLIP_WH for f in frames)
    assert all(f.ts.utcoffset() == timedelta(0) for f in frames)
    assert [f.ts for f in frames] == [
        START + timedelta(seconds=i / CLIP_FPS) for i in range(CLIP_FRAMES)
    ]
    for f in (frames[0], frames[17], frames[-1]):
        assert _square_x(f) == pytest.approx(_expected_square_x(f.seq), abs=2.5)
    stats = source.stats()
    assert stats.state is SourceState.STOPPED
    assert stats.frames_decoded == CLIP_FRAMES
    assert stats.decode_errors == 0 and stats.last_error is None
    assert stats.last_frame_at == frames[-1].ts


def test_loops_with_continuous_seq_and_media_time(clip: Path) -> None:
    source = _source(clip, loop=True)
    stop = threading.Event()
    frames = list(islice(source.frames(stop), 2 * CLIP_FRAMES + 10))
    assert [f.seq for f in frames] == list(range(2 * CLIP_FRAMES + 10))
    gaps = {round((b.ts - a.ts).total_seconds(), 6) for a, b in pairwise(frames)}
    assert gaps == {1 / CLIP_FPS}  # no jump or repeat at the loop boundary
    # After the loop the clip starts again: frame 64 shows clip frame 0.
    assert _square_x(frames[CLIP_FRAMES]) == pytest.approx(_expected_square_x(0), abs=2.5)
    assert _square_x(frames[CLIP_FRAMES + 5]) == pytest.approx(_expected_square_x(5), abs=2.5)
    assert source.state is SourceState.STOPPED  # the generator was closed by islice's end


def test_stop_event_ends_a_looping_source(clip: Path) -> None:
    source = _source(clip, loop=True)
    stop = threading.Event()
    count = 0
    for _ in source.frames(stop):
        count += 1
        if count == 10:
            stop.set()
    assert count == 10
    assert source.state is SourceState.STOPPED


def test_realtime_paces_at_the_file_rate(clip: Path) -> None:
    source = _source(clip, realtime=True)
    assert source.live
    started = time.monotonic()
    frames = list(islice(source.frames(threading.Event()), 11))
    elapsed = time.monotonic() - started
    assert len(frames) == 11
    assert elapsed >= 10 / CLIP_FPS - 0.01  # 10 intervals of 40 ms
    assert elapsed < 2.0


def test_missing_file_fails_clearly(tmp_path: Path) -> None:
    source = _source(tmp_path / "nope.mp4")
    with pytest.raises(SourceError, match=r"cam-file: video file .*nope\.mp4: no such file"):
        list(source.frames(threading.Event()))
    assert source.state is SourceState.FAILED
    assert source.stats().last_error is not None


def test_directory_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not a regular file"):
        list(_source(tmp_path).frames(threading.Event()))


def test_truncated_file_fails_clearly(clip: Path, tmp_path: Path) -> None:
    data = clip.read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(data[: len(data) // 2])  # the index (moov) is at the end: gone
    source = _source(truncated)
    with pytest.raises(SourceError, match=r"truncated\.mp4: cannot open as video \(Invalid data"):
        list(source.frames(threading.Event()))
    assert source.state is SourceState.FAILED


def test_not_a_video_fails_clearly(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(3).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(SourceError, match="cannot open as video"):
        list(_source(junk).frames(threading.Event()))


def test_audio_only_file_fails_clearly(tmp_path: Path) -> None:
    import av

    path = tmp_path / "audio.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=16000)
        for i in range(5):
            chunk = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono"
            )
            chunk.sample_rate, chunk.pts = 16000, i * 1024
            for packet in stream.encode(chunk):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with pytest.raises(SourceError, match="has no video stream"):
        list(_source(path).frames(threading.Event()))


def test_corrupt_packets_are_logged_and_skipped(
    clip: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = bytearray(clip.read_bytes())
    mdat = data.find(b"mdat")
    assert mdat > 0
    rng = np.random.default_rng(1)
    for offset in range(mdat + 3000, mdat + 23000, 2000):  # ten damaged spots in the video
        data[offset : offset + 300] = rng.integers(0, 256, 300, dtype=np.uint8).tobytes()
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(bytes(data))
    source = _source(corrupt)
    with caplog.at_level(logging.WARNING, logger="edge.sources"):
        frames = list(source.frames(threading.Event()))
    stats = source.stats()
    assert stats.decode_errors > 0
    assert 0 < len(frames) < CLIP_FRAMES
    assert stats.frames_decoded == len(frames)
    assert [f.seq for f in frames] == list(range(len(frames)))  # seq has no holes
    assert stats.state is SourceState.STOPPED  # reached the end: not a failure
    assert any("failed to decode" in r.getMessage() for r in caplog.records)


def test_looping_over_a_file_that_vanished_fails(clip: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.mp4"
    copy.write_bytes(clip.read_bytes())
    source = _source(copy, loop=True)
    frames = source.frames(threading.Event())
    next(frames)
    copy.unlink()
    with pytest.raises(SourceError, match="no such file"):
        list(frames)
    assert source.state is SourceState.FAILED
