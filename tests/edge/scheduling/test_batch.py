"""Batches across cameras: the collector's policy, and the runner behind the Detector API."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import pytest

from contracts import ModelRef
from edge.scheduling.batch import BatchCollector, BatchedDetector, BatchRunner
from edge.types import Detections, ImageArray

NAMES = ("stall",)


def test_collector_runs_a_full_batch_at_once() -> None:
    c: BatchCollector[int] = BatchCollector(max_batch=3, max_wait_s=1.0)
    assert not c.ready(0.0) and c.wait_s(0.0) is None
    for i in range(4):
        c.add(i, now=0.1)
    assert c.ready(0.1) and c.wait_s(0.1) == 0.0
    assert c.take() == [0, 1, 2]
    assert c.ready(0.1)  # the fourth has waited its turn already
    assert c.take() == [3] and len(c) == 0


def test_collector_runs_a_partial_batch_after_max_wait() -> None:
    c: BatchCollector[str] = BatchCollector(max_batch=8, max_wait_s=0.05)
    c.add("a", now=1.0)
    c.add("b", now=1.03)
    assert not c.ready(1.04)
    assert c.wait_s(1.04) == pytest.approx(0.01)
    assert c.ready(1.05)
    assert c.take() == ["a", "b"]


@pytest.mark.parametrize(("max_batch", "max_wait_s"), [(0, 0.1), (1, -1.0)])
def test_collector_refuses_bad_settings(max_batch: int, max_wait_s: float) -> None:
    with pytest.raises(ValueError):
        BatchCollector(max_batch, max_wait_s)


class Counting:
    """A scripted batch detector: one box whose x is the image's first pixel."""

    names = NAMES
    model = ModelRef(name="counting", version="1", sha256="c" * 64)
    input_size = (32, 32)
    providers = ("CPUExecutionProvider",)
    max_batch = 8

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.fail = False

    def detect(self, image: ImageArray) -> Detections:
        return self.detect_batch([image])[0]

    def detect_batch(self, images: Sequence[ImageArray]) -> list[Detections]:
        if self.fail:
            raise RuntimeError("model broke")
        self.batches.append(len(images))
        return [
            Detections(
                xyxy=np.array([[float(im[0, 0, 0]), 0, 10, 10]], np.float32),
                confidence=np.ones(1, np.float32),
                class_id=np.zeros(1, np.int64),
                names=NAMES,
            )
            for im in images
        ]


def _image(value: int) -> ImageArray:
    return np.full((4, 4, 3), value, np.uint8)


def test_cameras_share_batches_and_each_gets_its_own_detections() -> None:
    model = Counting()
    runner = BatchRunner(max_batch=8, max_wait_s=0.2)
    detector = BatchedDetector(model, runner)
    results: dict[int, float] = {}

    def camera(i: int) -> None:
        results[i] = float(detector.detect(_image(i)).xyxy[0, 0])

    threads = [threading.Thread(target=camera, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    runner.stop()
    assert results == {i: float(i) for i in range(16)}
    assert sum(model.batches) == 16 and max(model.batches) <= 8
    assert len(model.batches) < 16  # batched, not one call per camera
    assert runner.stats.images == 16 and runner.stats.mean_batch > 1
    assert detector.model == model.model and detector.names == NAMES


def test_an_error_reaches_every_camera_of_the_batch_and_the_runner_goes_on() -> None:
    model = Counting()
    runner = BatchRunner(max_batch=4, max_wait_s=0.01)
    detector = BatchedDetector(model, runner)
    model.fail = True
    with pytest.raises(RuntimeError, match="model broke"):
        detector.detect(_image(1))
    model.fail = False
    assert float(detector.detect(_image(7)).xyxy[0, 0]) == 7.0
    runner.stop()
    with pytest.raises(RuntimeError, match="stopped"):
        detector.detect(_image(1))


def test_frames_for_two_detectors_run_apart() -> None:
    """During a detector swap, a batch may hold frames for the old and the new model."""
    old, new = Counting(), Counting()
    runner = BatchRunner(max_batch=8, max_wait_s=0.2)
    futures = [runner.submit(old if i % 2 else new, _image(i)) for i in range(6)]
    assert [float(f.result(5).xyxy[0, 0]) for f in futures] == [float(i) for i in range(6)]
    runner.stop()
    assert sum(old.batches) == 3 and sum(new.batches) == 3
