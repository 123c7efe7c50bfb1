"""RtspSource against a real GStreamer RTSP server on loopback."""

from __future__ import annotations

import itertools
import logging
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from edge.sources import FrameReader, RtspSource, RtspSourceConfig, SourceState
from edge.types import Frame
from tests.edge.sources.conftest import CLIP_WH, wait_for
from tests.support.rtsp_server import RtspServer, write_test_clip

pytestmark = pytest.mark.integration

USER, PASSWORD = "alice", "Pa55-w0rd-x9"

# Short timeouts so that failures show within a test's patience.
FAST = {
    "open_timeout_s": 2.0,
    "read_timeout_s": 1.0,
    "watchdog_s": 2.0,
    "backoff_initial_s": 0.1,
    "backoff_max_s": 0.4,
}


def _source(url: str, **overrides: object) -> RtspSource:
    fields: dict[str, object] = {"type": "rtsp", "url": url, **FAST, **overrides}
    return RtspSource("cam-rtsp", RtspSourceConfig.model_validate(fields))


def _take(reader: FrameReader, count: int, timeout_s: float = 10.0) -> list[Frame]:
    frames: list[Frame] = []
    wait_for(lambda: _append(reader, frames) >= count, timeout_s, f"{count} frames")
    return frames


def _append(reader: FrameReader, frames: list[Frame]) -> int:
    frame = reader.get(0.05)
    if frame is not None:
        frames.append(frame)
    return len(frames)


def test_frames_arrive_with_the_right_size_seq_and_utc_time(rtsp_server: RtspServer) -> None:
    source = _source(rtsp_server.url)
    with FrameReader(source, analysis_fps=None, queue_size=100) as reader:
        frames = _take(reader, 10)
        assert source.state is SourceState.STREAMING
    assert all(f.resolution_wh == CLIP_WH for f in frames)
    assert [f.seq for f in frames] == list(range(10))
    assert all(f.ts.utcoffset() == timedelta(0) for f in frames)
    assert all(b.ts >= a.ts for a, b in itertools.pairwise(frames))
    stats = source.stats()
    assert stats.state is SourceState.STOPPED
    assert stats.frames_decoded >= 10 and stats.reconnects == 0


def test_analysis_rate_limit_on_a_live_stream(rtsp_server: RtspServer) -> None:
    source = _source(rtsp_server.url)
    with FrameReader(source, analysis_fps=5.0, queue_size=10) as reader:
        frames = _take(reader, 6)
    span_s = (frames[-1].ts - frames[0].ts).total_seconds()
    assert span_s >= 5 * 0.2 - 0.01  # 5 fps on average: frames sit on a 0.2 s grid
    assert reader.stats().frames_skipped >= 3 * 5  # 25 fps in, 5 fps out


def test_server_killed_mid_stream_then_restarted_frames_resume(
    rtsp_server: RtspServer,
) -> None:
    source = _source(rtsp_server.url)
    with FrameReader(source, analysis_fps=None, queue_size=100) as reader:
        before = _take(reader, 5)
        rtsp_server.kill()
        wait_for(
            lambda: source.state in (SourceState.BACKING_OFF, SourceState.CONNECTING),
            5,
            "the source to notice the dead server",
        )
        wait_for(lambda: source.stats().reconnects >= 2, 5, "reconnect attempts")
        assert source.stats().last_error is not None
        assert reader.running
        rtsp_server.start()  # same port, same URL
        while reader.get(0) is not None:  # frames from before the outage
            pass
        after = _take(reader, 5)
        assert source.state is SourceState.STREAMING
    assert after[0].seq > before[-1].seq  # seq carries on across the reconnect
    assert after[0].ts > before[-1].ts


def test_hung_server_read_timeout_then_recovery(rtsp_server: RtspServer) -> None:
    source = _source(rtsp_server.url)
    with FrameReader(source, analysis_fps=None, queue_size=100) as reader:
        _take(reader, 3)
        rtsp_server.pause()  # TCP stays up, no data flows
        try:
            wait_for(lambda: source.state is not SourceState.STREAMING, 5, "the read timeout")
            wait_for(lambda: "timeout" in (source.stats().last_error or ""), 5, "timeout error")
        finally:
            rtsp_server.resume()
        count = source.stats().frames_decoded
        wait_for(lambda: source.stats().frames_decoded > count + 3, 10, "frames after resume")
        assert source.state is SourceState.STREAMING


def test_watchdog_reopens_a_stream_that_yields_no_frames(rtsp_ready: None, tmp_path: Path) -> None:
    # Keyframes every 3 s but a watchdog of 0.5 s: packets flow, frames do not.
    clip = write_test_clip(tmp_path / "gop75.mp4", frames=150, gop=75)
    with RtspServer(clip) as server:
        source = _source(server.url, decode="keyframes", watchdog_s=0.5, read_timeout_s=0.5)
        with FrameReader(source, analysis_fps=None):
            wait_for(
                lambda: "watchdog: no frame for" in (source.stats().last_error or ""),
                10,
                "the watchdog",
            )
            wait_for(lambda: source.stats().reconnects >= 1, 5, "the reopening")


def test_keyframes_only_decodes_about_one_frame_per_gop(rtsp_server: RtspServer) -> None:
    source = _source(rtsp_server.url, decode="keyframes", watchdog_s=3.0)
    with FrameReader(source, analysis_fps=None, queue_size=10) as reader:
        frames = _take(reader, 3, timeout_s=10)
    gaps = [(b.ts - a.ts).total_seconds() for a, b in itertools.pairwise(frames)]
    # Keyframes come every 25 frames (1 s), and at the loop point 14 frames later.
    assert all(gap > 0.5 for gap in gaps), gaps


def test_nobody_listening_backs_off_without_crashing(rtsp_ready: None) -> None:
    from civicwatch.services import free_port

    source = _source(f"rtsp://{USER}:{PASSWORD}@127.0.0.1:{free_port()}/stream")
    with FrameReader(source, analysis_fps=None) as reader:
        wait_for(lambda: source.stats().reconnects >= 3, 5, "reconnect attempts")
        stats = source.stats()
        assert stats.state in (SourceState.BACKING_OFF, SourceState.CONNECTING)
        assert stats.last_error is not None and "Connection refused" in stats.last_error
        assert stats.frames_decoded == 0
        assert reader.running and reader.error is None
    assert source.state is SourceState.STOPPED
    assert not reader.running


def test_credentials_never_reach_the_logs(
    rtsp_ready: None, clip: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with RtspServer(clip, username=USER, password=PASSWORD) as server:
        good = _source(server.url)
        bad = _source(server.url.replace(PASSWORD, PASSWORD + "-wrong"))
        with FrameReader(good, None, queue_size=50) as reader, FrameReader(bad, None):
            _take(reader, 3)
            wait_for(lambda: bad.stats().reconnects >= 1, 5, "the refused login to retry")
            server.kill()
            wait_for(lambda: good.state is not SourceState.STREAMING, 5, "the outage")
            server.start()
            count = good.stats().frames_decoded
            wait_for(lambda: good.stats().frames_decoded > count, 10, "frames after restart")
        bad_error = bad.stats().last_error or ""
        assert "401" in bad_error and "rtsp://***@127.0.0.1" in bad_error
    texts = [r.getMessage() for r in caplog.records] + [r.exc_text or "" for r in caplog.records]
    texts += [str(good.stats()), str(bad.stats())]
    assert any("rtsp://***@127.0.0.1" in t for t in texts)  # the logs do name the camera
    leaks = [t for t in texts if PASSWORD in t or f"{USER}:" in t]
    assert leaks == []


def test_stop_while_backing_off_is_prompt(rtsp_ready: None) -> None:
    from civicwatch.services import free_port

    source = _source(
        f"rtsp://127.0.0.1:{free_port()}/s", backoff_initial_s=30.0, backoff_max_s=30.0
    )
    stop = threading.Event()
    reader = FrameReader(source, None, stop_event=stop).start()
    wait_for(lambda: source.state is SourceState.BACKING_OFF, 5, "backing off")
    reader.stop(timeout_s=2.0)
    assert not reader.running
    assert source.state is SourceState.STOPPED
