"""Frames of several cameras through one inference call.

Each camera's analysis thread asks :class:`BatchedDetector` (a
:class:`~edge.detectors.Detector`) for detections as it would ask the model; a
:class:`BatchRunner` thread collects the images of all cameras and runs them through the
model's :meth:`~edge.detectors.base.BatchDetector.detect_batch` in one call once
``max_batch`` are waiting or the oldest has waited ``max_wait_s``. The policy of when to run
is :class:`BatchCollector`, pure logic that takes the time as an argument.

Example:
    >>> collector = BatchCollector(max_batch=2, max_wait_s=0.05)
    >>> collector.add("a", now=0.0); collector.ready(now=0.01)
    False
    >>> collector.add("b", now=0.02); collector.ready(now=0.02)
    True
    >>> collector.take(), collector.wait_s(now=0.02)
    (['a', 'b'], None)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Generic, TypeVar

from contracts import ModelRef
from edge.detectors.base import BatchDetector, Detector
from edge.types import Detections, ImageArray

logger = logging.getLogger(__name__)

T = TypeVar("T")


class BatchCollector(Generic[T]):
    """Items waiting for a batch; says when a batch is due.

    Args:
        max_batch: A batch is due as soon as this many wait.
        max_wait_s: ... or once the oldest has waited this long.
    """

    def __init__(self, max_batch: int, max_wait_s: float) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        if max_wait_s < 0:
            raise ValueError(f"max_wait_s must be >= 0, got {max_wait_s}")
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._items: list[T] = []
        self._oldest: float | None = None

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: T, now: float) -> None:
        """An item arrived at ``now``."""
        if not self._items:
            self._oldest = now
        self._items.append(item)

    def ready(self, now: float) -> bool:
        """Whether a batch is due at ``now``."""
        if not self._items:
            return False
        assert self._oldest is not None
        return len(self._items) >= self.max_batch or now - self._oldest >= self.max_wait_s

    def wait_s(self, now: float) -> float | None:
        """Seconds until a batch is due (``0`` when it is), ``None`` with nothing waiting."""
        if not self._items:
            return None
        assert self._oldest is not None
        if len(self._items) >= self.max_batch:
            return 0.0
        return max(0.0, self._oldest + self.max_wait_s - now)

    def take(self) -> list[T]:
        """The next batch: the oldest ``max_batch`` items (the rest keep waiting)."""
        batch, self._items = self._items[: self.max_batch], self._items[self.max_batch :]
        self._oldest = None
        if self._items:
            self._oldest = float("-inf")  # the rest waited already: due at once
        return batch


@dataclass(frozen=True, slots=True, eq=False)
class _Request:
    detector: Detector
    image: ImageArray
    result: Future[Detections]


@dataclass(slots=True)
class BatchStats:
    """Inference calls made and images they carried (for benches and metrics)."""

    calls: int = 0
    images: int = 0

    @property
    def mean_batch(self) -> float:
        return self.images / self.calls if self.calls else 0.0


class BatchRunner:
    """One thread that runs the waiting images of all cameras in batches.

    Args:
        max_batch: Most images per call (the model's own limit also applies).
        max_wait_s: Longest an image waits for others before its batch runs.
    """

    def __init__(self, max_batch: int, max_wait_s: float) -> None:
        self._clock = time.monotonic
        self._collector: BatchCollector[_Request] = BatchCollector(max_batch, max_wait_s)
        self._cond = threading.Condition()
        self._stopped = False
        self.stats = BatchStats()
        self._thread = threading.Thread(target=self._run, name="batch-inference", daemon=True)
        self._thread.start()

    def submit(self, detector: Detector, image: ImageArray) -> Future[Detections]:
        """Queue ``image`` for ``detector``; the future holds its detections (or error)."""
        request = _Request(detector, image, Future())
        with self._cond:
            if self._stopped:
                raise RuntimeError("the batch runner is stopped")
            self._collector.add(request, self._clock())
            self._cond.notify()
        return request.result

    def stop(self, timeout_s: float = 5.0) -> None:
        """Run what waits, then end the thread."""
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join(timeout_s)

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    now = self._clock()
                    if self._collector.ready(now) or (self._stopped and len(self._collector)):
                        batch = self._collector.take()
                        break
                    if self._stopped:
                        return
                    self._cond.wait(self._collector.wait_s(now))
            self._infer(batch)

    def _infer(self, batch: Sequence[_Request]) -> None:
        groups: dict[int, list[_Request]] = {}
        for request in batch:  # during a detector swap, old and new run apart
            groups.setdefault(id(request.detector), []).append(request)
        for requests in groups.values():
            detector = requests[0].detector
            try:
                if isinstance(detector, BatchDetector) and len(requests) > 1:
                    found = detector.detect_batch([r.image for r in requests])
                else:
                    found = [detector.detect(r.image) for r in requests]
            except Exception as exc:  # each camera gets the error of its own frame
                for request in requests:
                    request.result.set_exception(exc)
                continue
            self.stats.calls += 1
            self.stats.images += len(requests)
            for request, detections in zip(requests, found, strict=True):
                request.result.set_result(detections)


class BatchedDetector:
    """A :class:`~edge.detectors.Detector` whose calls share batches with other cameras.

    Args:
        detector: The model that runs.
        runner: The batch runner all cameras share.
    """

    def __init__(self, detector: Detector, runner: BatchRunner) -> None:
        self.inner = detector
        self.runner = runner

    @property
    def names(self) -> tuple[str, ...]:
        return self.inner.names

    @property
    def model(self) -> ModelRef:
        return self.inner.model

    @property
    def input_size(self) -> tuple[int, int]:
        return self.inner.input_size

    @property
    def providers(self) -> tuple[str, ...]:
        return self.inner.providers

    def detect(self, image: ImageArray) -> Detections:
        """Wait for this image's detections from the next batch."""
        return self.runner.submit(self.inner, image).result()
