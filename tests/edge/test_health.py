"""Health: the picture signals (pure, time as an argument) and the sample built from counters."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
import pytest

from contracts.health import CameraState
from edge.health import (
    FrozenTracker,
    HealthConfig,
    LatencyWindow,
    PictureMonitor,
    PictureState,
    camera_health,
    picture_difference,
    thumbnail,
    view_signature,
    view_similarity,
)
from edge.sources import SourceState, SourceStats
from edge.sources.reader import FrameAgeStats, ReaderStats
from edge.types import Frame

T0 = datetime(2025, 6, 2, 2, 0, tzinfo=UTC)


def _scene(seed: int, size_wh: tuple[int, int] = (640, 360)) -> np.ndarray:
    """A street-like view: blocks of different grey and colour, some lines."""
    rng = np.random.default_rng(seed)
    width, height = size_wh
    image = np.full((height, width, 3), 90, dtype=np.uint8)
    for _ in range(25):
        x, y = int(rng.integers(0, width - 40)), int(rng.integers(0, height - 40))
        w, h = int(rng.integers(20, 200)), int(rng.integers(20, 150))
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.rectangle(image, (x, y), (x + w, y + h), color, -1)
    return image


def _noisy(image: np.ndarray, seed: int, amplitude: int = 6) -> np.ndarray:
    noise = np.random.default_rng(seed).integers(-amplitude, amplitude + 1, image.shape)
    return np.asarray(np.clip(image.astype(np.int16) + noise, 0, 255), dtype=np.uint8)


def test_identical_frames_are_the_same_picture_and_noise_is_not() -> None:
    scene = _scene(1)
    assert picture_difference(thumbnail(scene), thumbnail(scene.copy())) == 0.0
    # a live camera's sensor noise moves the area-averaged thumbnail a little
    assert picture_difference(thumbnail(_noisy(scene, 1)), thumbnail(_noisy(scene, 2))) > 0.25
    assert picture_difference(thumbnail(scene), np.zeros((2, 2), np.uint8)) == float("inf")


@pytest.mark.parametrize(
    ("times_and_pictures", "frozen_for"),
    [
        ([], 0.0),
        ([(0.0, "a")], 0.0),
        ([(0.0, "a"), (10.0, "a"), (40.0, "a")], 40.0),
        ([(0.0, "a"), (10.0, "b"), (40.0, "b")], 30.0),
        ([(0.0, "a"), (10.0, "a"), (20.0, "b")], 0.0),
    ],
)
def test_frozen_tracker(times_and_pictures: list[tuple[float, str]], frozen_for: float) -> None:
    pictures = {"a": np.zeros((36, 64), np.uint8), "b": np.full((36, 64), 9, np.uint8)}
    tracker = FrozenTracker(tolerance=0.25)
    for t, name in times_and_pictures:
        tracker.update(pictures[name], t)
    last = times_and_pictures[-1][0] if times_and_pictures else 0.0
    assert tracker.unchanged_for(last) == frozen_for


def test_view_similarity_tells_the_scene_from_another() -> None:
    scene = _scene(1)
    reference = view_signature(scene)
    darker = np.clip(scene.astype(np.int16) - 40, 0, 255).astype(np.uint8)
    blurred = cv2.resize(cv2.resize(scene, (320, 180)), (640, 360))
    same_scene = [_noisy(scene, 3), darker, blurred]
    for image in same_scene:
        assert view_similarity(view_signature(image), reference) > 0.8
    for shift in (60, 200):  # panned by a tenth, a third of the frame
        turned = np.roll(scene, shift, axis=1)
        assert view_similarity(view_signature(turned), reference) < 0.5
    assert view_similarity(view_signature(_scene(7)), reference) < 0.3
    assert view_similarity(reference, reference) == pytest.approx(1.0)


def test_picture_monitor_reports_frozen_and_view() -> None:
    clock = [0.0]
    monitor = PictureMonitor(
        HealthConfig(frozen_after_s=30.0, view_check_interval_s=10.0), clock=lambda: clock[0]
    )
    scene = _scene(1)
    assert monitor.state(T0.timestamp()).view_similarity is None
    monitor.set_reference("a" * 64, scene)
    for second in range(0, 41, 5):
        clock[0] = float(second)
        ts = T0 + timedelta(seconds=second)
        monitor.observe(Frame(camera_id="c", seq=second, ts=ts, image=scene))
    state = monitor.state((T0 + timedelta(seconds=40)).timestamp())
    assert state.frozen and state.frozen_for_s == 40.0
    assert state.view_similarity == pytest.approx(1.0)
    assert state.reference_sha256 == "a" * 64
    assert monitor.latest is not None and monitor.latest.seq == 40
    monitor.set_reference(None, None)
    assert monitor.state(T0.timestamp()).reference_sha256 is None


def test_latency_window_is_the_median_of_interval_means() -> None:
    window = LatencyWindow(samples=3)
    assert window.add(0, 0.0) is None
    assert window.add(10, 0.5) == pytest.approx(50.0)  # 10 frames, 50 ms each
    assert window.add(10, 0.5) == pytest.approx(50.0)  # nothing analysed: unchanged
    assert window.add(20, 1.5) == pytest.approx(75.0)  # means 50, 100
    window.add(30, 3.5)  # 200
    assert window.add(40, 4.5) == pytest.approx(100.0)  # the last three: 100, 200, 100


def _reader(**changes: object) -> ReaderStats:
    source = SourceStats(
        camera_id="cam-1",
        state=SourceState.STREAMING,
        frames_decoded=40,
        frames_delivered=10,
        frames_not_due=30,
        decode_errors=2,
        reconnects=1,
        last_error=None,
        last_frame_at=T0,
        packets_received=250,
        last_packet_at=T0 + timedelta(seconds=1),
    )
    fields: dict[str, object] = {
        "source": source,
        "frames_queued": 10,
        "frames_dropped": 3,
        "frames_skipped": 30,
        "frame_age": FrameAgeStats(0, None, None, None),
        "running": True,
    }
    fields.update(changes)
    return ReaderStats(**fields)  # type: ignore[arg-type]


def test_camera_health_from_counters() -> None:
    sample = camera_health(
        camera_id="cam-1",
        reader=_reader(),
        frames_analysed=9,
        latency_ms=42.0,
        picture=PictureState(False, 3.0, 0.9, "b" * 64),
        now=T0 + timedelta(seconds=3),
    )
    assert sample.state is CameraState.RUNNING
    assert (sample.frames_received, sample.frames_analysed, sample.frames_dropped) == (250, 9, 3)
    assert (sample.decode_errors, sample.reconnects) == (2, 1)
    assert sample.last_frame_age_s == pytest.approx(2.0)  # from the last packet
    assert sample.view_similarity == 0.9


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (SourceState.IDLE, CameraState.CONNECTING),
        (SourceState.CONNECTING, CameraState.CONNECTING),
        (SourceState.BACKING_OFF, CameraState.DOWN),
        (SourceState.FAILED, CameraState.DOWN),
        (SourceState.STOPPED, CameraState.DOWN),
    ],
)
def test_camera_states(state: SourceState, expected: CameraState) -> None:
    source = dataclasses.replace(_reader().source, state=state)
    sample = camera_health(
        camera_id="cam-1",
        reader=_reader(source=source),
        frames_analysed=0,
        latency_ms=None,
        picture=PictureState(False, 0.0, None, None),
        now=T0,
    )
    assert sample.state is expected
