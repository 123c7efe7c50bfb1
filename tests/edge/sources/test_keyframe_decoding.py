"""``decode: keyframes`` on a real RTSP stream: only due keyframes are decoded, at capture time."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest

from edge.sources import FrameReader, RtspSource, RtspSourceConfig
from edge.types import Frame
from tests.edge.sources.conftest import wait_for
from tests.support.rtsp_server import RtspServer, write_test_clip

pytestmark = pytest.mark.integration

LOOK_FPS = 0.5  # one look every 2 s; the clip has a keyframe every 1 s


@pytest.fixture(scope="module")
def gop_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 s at 25 fps, a keyframe every second: looping keeps the keyframes 1 s apart."""
    return write_test_clip(tmp_path_factory.mktemp("gop") / "gop25.mp4", frames=100, fps=25, gop=25)


def _source(url: str, decode: str) -> RtspSource:
    config = RtspSourceConfig.model_validate(
        {"type": "rtsp", "url": url, "decode": decode, "watchdog_s": 5.0}
    )
    return RtspSource(f"cam-{decode}", config)


def _collect(reader: FrameReader, frames: list[Frame], count: int) -> bool:
    frame = reader.get(0.05)
    if frame is not None:
        frames.append(frame)
    return len(frames) >= count


def test_keyframes_mode_decodes_only_due_keyframes_with_capture_times(
    rtsp_ready: None, gop_clip: Path
) -> None:
    with RtspServer(gop_clip) as server:
        keyframes, every = _source(server.url, "keyframes"), _source(server.url, "all")
        got_kf: list[Frame] = []
        got_all: list[Frame] = []
        ages: list[float] = []
        with (
            FrameReader(keyframes, analysis_fps=LOOK_FPS, queue_size=10) as kf_reader,
            FrameReader(every, analysis_fps=LOOK_FPS, queue_size=10) as all_reader,
        ):

            def both_have_four() -> bool:
                before = len(got_kf)
                done_kf = _collect(kf_reader, got_kf, 4)
                if len(got_kf) > before:
                    ages.append(time.time() - got_kf[-1].ts.timestamp())
                return _collect(all_reader, got_all, 4) and done_kf

            wait_for(both_have_four, 20, "4 looks from each reader")
            kf_stats, all_stats = kf_reader.stats(), all_reader.stats()

    # Delivered only when due: one look per 2 s, on the keyframes' 1 s grid, in capture
    # time (stream timestamps), not decode time.
    gaps = [(b.ts - a.ts).total_seconds() for a, b in itertools.pairwise(got_kf[:4])]
    assert all(1.9 <= gap <= 2.1 for gap in gaps), gaps
    assert all(0 <= age < 1.0 for age in ages), ages
    assert [f.seq for f in got_kf[:4]] == list(range(4))

    # Counted: keyframe mode decoded only what it delivered (plus at most one in flight),
    # and dropped the other packets undecoded; decode-all decoded every frame.
    src_kf, src_all = kf_stats.source, all_stats.source
    assert src_kf.frames_decoded <= src_kf.frames_delivered + 1
    assert src_kf.frames_not_due >= 25 * 4  # about 50 packets per delivered look
    assert src_all.frames_decoded >= 10 * src_kf.frames_decoded
    assert src_all.frames_decoded - src_all.frames_delivered >= 25 * 4  # decoded, not converted
    assert kf_stats.frames_skipped == src_kf.frames_not_due
    assert kf_stats.frame_age.count >= 4 and kf_stats.frame_age.p99_s is not None
    assert 0 <= kf_stats.frame_age.p99_s < 1.0


def test_keyframes_mode_without_a_rate_delivers_every_keyframe(
    rtsp_ready: None, gop_clip: Path
) -> None:
    with RtspServer(gop_clip) as server:
        source = _source(server.url, "keyframes")
        frames: list[Frame] = []
        with FrameReader(source, analysis_fps=None, queue_size=10) as reader:
            wait_for(lambda: _collect(reader, frames, 3), 10, "3 keyframes")
    gaps = [(b.ts - a.ts).total_seconds() for a, b in itertools.pairwise(frames)]
    assert all(0.95 <= gap <= 1.05 for gap in gaps), gaps


def test_road_rate_above_the_keyframe_rate_needs_decode_all(
    rtsp_ready: None, gop_clip: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with RtspServer(gop_clip) as server:
        source = _source(server.url, "keyframes")
        frames: list[Frame] = []
        with FrameReader(source, analysis_fps=5.0, queue_size=10) as reader:
            wait_for(lambda: _collect(reader, frames, 3), 10, "3 keyframes")
    assert "the rate cannot be held" in caplog.text
