"""Fixtures for the source tests: clips made here, and a real RTSP server on loopback."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.rtsp_server import RtspServer, rtsp_server_available, write_test_clip

CLIP_FRAMES = 64
CLIP_WH = (320, 240)
CLIP_FPS = 25


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """64 frames, 320x240, 25 fps, H.264 MP4, a keyframe every 25 frames."""
    return write_test_clip(
        tmp_path_factory.mktemp("clips") / "clip.mp4",
        frames=CLIP_FRAMES,
        size_wh=CLIP_WH,
        fps=CLIP_FPS,
        gop=25,
    )


@pytest.fixture(scope="session")
def rtsp_ready() -> None:
    """Skips the test, naming the Debian packages, when the RTSP server cannot run here."""
    reason = rtsp_server_available()
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture()
def rtsp_server(rtsp_ready: None, clip: Path) -> Iterator[RtspServer]:
    """A running RTSP server (looping ``clip``), private to the test; may be killed."""
    server = RtspServer(clip, loop=True)
    server.start()
    yield server
    server.stop()


def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll ``predicate`` every 20 ms; fail the test naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.02)
