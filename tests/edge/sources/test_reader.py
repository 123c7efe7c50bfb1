from __future__ import annotations

import logging
import threading
import time
from collections.abc import Generator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from edge.sources import (
    FileSource,
    FileSourceConfig,
    FrameAges,
    FrameAgeStats,
    FrameQueue,
    FrameReader,
    QueuePolicy,
    SourceError,
    SourceState,
    SourceStats,
)
from edge.types import Frame
from tests.edge.sources.conftest import CLIP_FRAMES, wait_for

T0 = datetime(2025, 3, 1, 8, 0, 0, tzinfo=UTC)
IMAGE = np.zeros((4, 4, 3), dtype=np.uint8)


def _frame(seq: int, fps: float = 25.0) -> Frame:
    return Frame(camera_id="fake", seq=seq, ts=T0 + timedelta(seconds=seq / fps), image=IMAGE)


class FakeSource:
    """Produces ``count`` frames (``None``: endlessly) as fast as it can, then maybe fails."""

    def __init__(self, count: int | None, *, live: bool, fail_with: Exception | None = None):
        self.camera_id = "fake"
        self.live = live
        self.count = count
        self.fail_with = fail_with
        self._state = SourceState.IDLE
        self.produced = 0

    @property
    def state(self) -> SourceState:
        return self._state

    def stats(self) -> SourceStats:
        return SourceStats("fake", self._state, self.produced, self.produced, 0, 0, 0, None, None)

    def frames(self, stop: threading.Event) -> Generator[Frame, None, None]:
        self._state = SourceState.STREAMING
        seq = 0
        try:
            while not stop.is_set() and (self.count is None or seq < self.count):
                yield _frame(seq)
                self.produced += 1
                seq += 1
        finally:
            self._state = SourceState.STOPPED
        if self.fail_with is not None:
            self._state = SourceState.FAILED
            raise self.fail_with


def test_queue_drop_oldest_keeps_the_newest() -> None:
    queue = FrameQueue(2, QueuePolicy.DROP_OLDEST)
    stop = threading.Event()
    for seq in range(5):
        assert queue.put(_frame(seq), stop)
    assert queue.dropped == 3
    assert [queue.get(0), queue.get(0), queue.get(0)] == [_frame(3), _frame(4), None]


def test_queue_empty_get_times_out_and_closed_queue_returns_none() -> None:
    queue = FrameQueue(1, QueuePolicy.BLOCK)
    started = time.monotonic()
    assert queue.get(0.01) is None
    assert time.monotonic() - started < 1.0
    queue.close()
    assert queue.get(None) is None  # closed and empty: no wait


def test_queue_block_waits_for_room_and_stop_releases_it() -> None:
    queue = FrameQueue(1, QueuePolicy.BLOCK)
    stop = threading.Event()
    assert queue.put(_frame(0), stop)
    results: list[bool] = []
    producer = threading.Thread(target=lambda: results.append(queue.put(_frame(1), stop)))
    producer.start()
    time.sleep(0.02)
    assert results == []  # still waiting: nothing was dropped
    assert queue.get(0) == _frame(0)
    producer.join(1)
    assert results == [True] and queue.get(0) == _frame(1)
    assert queue.put(_frame(2), stop)
    blocked = threading.Thread(target=lambda: results.append(queue.put(_frame(3), stop)))
    blocked.start()
    stop.set()
    blocked.join(1)
    assert results == [True, False] and queue.dropped == 0


def test_queue_rejects_zero_size() -> None:
    with pytest.raises(ValueError, match="maxsize"):
        FrameQueue(0, QueuePolicy.BLOCK)


def test_live_reader_drops_stale_frames_and_keeps_the_newest() -> None:
    source = FakeSource(200, live=True)
    reader = FrameReader(source, analysis_fps=None, queue_size=1).start()
    wait_for(lambda: reader.queue.closed, 5, "the fake source to finish")
    frames = list(reader)
    assert [f.seq for f in frames] == [199]
    stats = reader.stats()
    assert stats.frames_dropped == 199 and stats.frames_queued == 200
    assert stats.frames_skipped == 0 and not stats.running


def test_live_reader_with_a_slow_consumer_sees_increasing_fresh_frames() -> None:
    source = FakeSource(None, live=True)
    with FrameReader(source, analysis_fps=None, queue_size=2) as reader:
        seen: list[int] = []
        for frame in reader:
            seen.append(frame.seq)
            time.sleep(0.002)
            if len(seen) == 20:
                break
        newest = source.produced
    assert seen == sorted(seen) and len(set(seen)) == 20
    assert reader.stats().frames_dropped > 0
    assert newest - seen[-1] < 10_000  # it did not fall behind by the backlog


def test_file_reader_without_realtime_drops_nothing(clip: Path) -> None:
    source = FileSource("cam-file", FileSourceConfig(type="file", path=clip))
    reader = FrameReader(source, analysis_fps=None, queue_size=1)
    assert reader.queue.policy is QueuePolicy.BLOCK
    with reader:
        seqs = []
        for frame in reader:
            seqs.append(frame.seq)
            time.sleep(0.001)  # slower than decoding: the capture thread must wait
    assert seqs == list(range(CLIP_FRAMES))
    assert reader.stats().frames_dropped == 0
    assert reader.error is None


def test_rate_limit_uses_frame_time_deterministically() -> None:
    source = FakeSource(100, live=False)  # 25 fps of frame time
    with FrameReader(source, analysis_fps=5.0, queue_size=1) as reader:
        seqs = [f.seq for f in reader]
    assert seqs == list(range(0, 100, 5))
    assert reader.stats().frames_skipped == 80


def test_shared_stop_event_stops_every_reader() -> None:
    stop = threading.Event()
    readers = [
        FrameReader(FakeSource(None, live=True), None, stop_event=stop).start() for _ in range(3)
    ]
    wait_for(lambda: all(r.stats().frames_queued > 0 for r in readers), 5, "frames")
    stop.set()
    for reader in readers:
        reader.stop(timeout_s=2)
        assert not reader.running
        assert reader.source.state is SourceState.STOPPED


def test_failed_source_is_reported_and_raised_at_the_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    error = SourceError("camera fake: video file x.mp4: no such file")
    source = FakeSource(3, live=False, fail_with=error)
    with caplog.at_level(logging.ERROR), FrameReader(source, None) as reader:
        seqs = []
        with pytest.raises(SourceError, match="no such file"):
            for frame in reader:
                seqs.append(frame.seq)
    assert seqs == [0, 1, 2]  # frames before the failure are not lost
    assert reader.error is error
    assert "source failed" in caplog.text


def test_a_crashing_source_does_not_pass_silently(caplog: pytest.LogCaptureFixture) -> None:
    source = FakeSource(1, live=True, fail_with=RuntimeError("bug at rtsp://u:pw@h/x"))
    with (
        caplog.at_level(logging.ERROR),
        FrameReader(source, None) as reader,
        pytest.raises(RuntimeError, match="bug"),
    ):
        list(reader)
    assert "capture thread crashed" in caplog.text
    assert "rtsp://***@h/x" in caplog.text and "u:pw" not in caplog.text


def test_reader_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="analysis_fps"):
        FrameReader(FakeSource(1, live=True), analysis_fps=0)
    reader = FrameReader(FakeSource(1, live=True), analysis_fps=None).start()
    with pytest.raises(RuntimeError, match="twice"):
        reader.start()
    reader.stop()


@pytest.mark.parametrize(
    ("ages", "p50", "p99", "largest"),
    [
        ([], None, None, None),
        ([0.5], 0.5, 0.5, 0.5),
        ([i / 100 for i in range(1, 101)], 0.5, 0.99, 1.0),
        ([3.0, 1.0, 2.0], 2.0, 3.0, 3.0),
    ],
)
def test_frame_ages_percentiles(
    ages: list[float], p50: float | None, p99: float | None, largest: float | None
) -> None:
    window = FrameAges()
    for age in ages:
        window.add(age)
    assert window.stats() == FrameAgeStats(len(ages), p50, p99, largest)


def test_frame_ages_keep_a_window_but_count_all() -> None:
    window = FrameAges(window=2)
    for age in (9.0, 1.0, 2.0):
        window.add(age)
    assert window.stats() == FrameAgeStats(3, 1.0, 2.0, 2.0)


def test_live_reader_measures_frame_age_and_a_file_reader_does_not(clip: Path) -> None:
    live = FrameReader(FakeSource(5, live=True), analysis_fps=None, queue_size=10)
    with live:
        frames = [live.get(2.0) for _ in range(5)]
    assert all(frames)
    assert live.stats().frame_age.count == 5
    source = FileSource("cam-file", FileSourceConfig(type="file", path=clip))
    with FrameReader(source, analysis_fps=None) as reader:
        assert sum(1 for _ in reader) > 0
    assert reader.stats().frame_age == FrameAgeStats(0, None, None, None)
