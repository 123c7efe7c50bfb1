"""Capture in a thread of its own, handing frames over through a small bounded queue.

For a live source the queue keeps the newest frames and drops the stale ones, so the
analysis never falls behind the camera (roboflow/inference's policy for RTSP). For a file
read as fast as possible, the capture thread waits for room instead: nothing is dropped
and a test sees every frame it expects. Both are limited to the analysis rate, measured in
frame time (``Frame.ts``), which for files is media time: deterministic.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from edge.sources.base import FrameSource, GatedSource, SourceError, SourceStats
from edge.sources.redact import redact_text
from edge.sources.timing import RateLimiter
from edge.types import Frame

logger = logging.getLogger(__name__)


class QueuePolicy(StrEnum):
    """What a full queue does with a new frame."""

    DROP_OLDEST = "drop_oldest"
    """Drop the oldest queued frame and keep the new one (live sources)."""
    BLOCK = "block"
    """Wait for the consumer (files read as fast as possible)."""


class FrameQueue:
    """A bounded, thread-safe frame queue with an explicit policy for a full queue.

    Args:
        maxsize: Capacity (``>= 1``).
        policy: What :meth:`put` does when the queue is full.

    Example:
        >>> q = FrameQueue(1, QueuePolicy.DROP_OLDEST)
        >>> q.put("a", threading.Event()), q.put("b", threading.Event()), q.get(0)
        (True, True, 'b')
        >>> q.dropped
        1
    """

    def __init__(self, maxsize: int, policy: QueuePolicy) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, got {maxsize}")
        self.maxsize = maxsize
        self.policy = policy
        self.dropped = 0
        self._items: deque[Frame] = deque()
        self._closed = False
        self._cond = threading.Condition()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def put(self, item: Frame, stop: threading.Event, poll_s: float = 0.05) -> bool:
        """Queue ``item``; returns ``False`` only when ``stop`` was set while waiting."""
        with self._cond:
            if self.policy is QueuePolicy.DROP_OLDEST:
                while len(self._items) >= self.maxsize:
                    self._items.popleft()
                    self.dropped += 1
            else:
                while len(self._items) >= self.maxsize:
                    if stop.is_set():
                        return False
                    self._cond.wait(poll_s)
            self._items.append(item)
            self._cond.notify_all()
            return True

    def close(self) -> None:
        """No more items will come; a waiting :meth:`get` returns ``None`` once empty."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    def get(self, timeout_s: float | None = None) -> Frame | None:
        """The oldest queued item, waiting up to ``timeout_s`` (``None``: until closed).

        Returns:
            The item, or ``None`` on timeout or when the queue is closed and empty.
        """
        with self._cond:
            if not self._cond.wait_for(lambda: self._items or self._closed, timeout_s):
                return None
            if not self._items:
                return None
            item = self._items.popleft()
            self._cond.notify_all()
            return item


@dataclass(frozen=True, slots=True)
class FrameAgeStats:
    """Frame age (capture to hand-over for analysis) over the most recent frames.

    Attributes:
        count: Frames measured (all of them, though the percentiles cover the last
            :attr:`FrameAges.window` only).
        p50_s: Median age in seconds (``None`` before the first frame).
        p99_s: 99th percentile in seconds.
        max_s: Largest age in the window.
    """

    count: int
    p50_s: float | None
    p99_s: float | None
    max_s: float | None


class FrameAges:
    """Thread-safe window of recent frame ages, with percentiles.

    Example:
        >>> ages = FrameAges(window=100)
        >>> for age in (0.1, 0.2, 0.3, 0.4): ages.add(age)
        >>> ages.stats()
        FrameAgeStats(count=4, p50_s=0.2, p99_s=0.4, max_s=0.4)
    """

    window = 4096

    def __init__(self, window: int | None = None) -> None:
        self._ages: deque[float] = deque(maxlen=window or self.window)
        self._count = 0
        self._lock = threading.Lock()

    def add(self, age_s: float) -> None:
        with self._lock:
            self._ages.append(age_s)
            self._count += 1

    def stats(self) -> FrameAgeStats:
        with self._lock:
            ages = sorted(self._ages)
            count = self._count
        if not ages:
            return FrameAgeStats(count, None, None, None)

        def pct(q: int) -> float:  # nearest rank: a value that was measured
            return ages[max(0, math.ceil(len(ages) * q / 100) - 1)]

        return FrameAgeStats(count, pct(50), pct(99), ages[-1])


@dataclass(frozen=True, slots=True)
class ReaderStats:
    """A snapshot of a reader and its source.

    Attributes:
        source: The source's state and counters.
        frames_queued: Frames put in the queue (the consumer got those not dropped).
        frames_dropped: Stale frames dropped from a full queue (live sources only).
        frames_skipped: Frames not analysed because of the analysis rate limit (by
            the reader, or by a gated source before decoding or converting them).
        frame_age: Capture to hand-over for analysis, for live sources (``count`` 0
            for the others, whose frame times are media times).
        running: Whether the capture thread is alive.
    """

    source: SourceStats
    frames_queued: int
    frames_dropped: int
    frames_skipped: int
    frame_age: FrameAgeStats
    running: bool


class FrameReader:
    """Runs a source in a capture thread and queues frames for analysis.

    Args:
        source: The frame source.
        analysis_fps: Most frames per second (of frame time) to pass on; ``None``: all.
        queue_size: Queue capacity; 1 keeps only the newest frame of a live source.
        stop_event: A stop event shared with other stages; a private one if omitted.
        policy: Override the queue policy (default: drop oldest for live sources,
            block for others).
        limiter: The rate limiter that decides which frames are due (a phased one spreads
            cameras' looks, :mod:`edge.scheduling.due`); default: one at ``analysis_fps``.

    Example:
        >>> reader = FrameReader(source, analysis_fps=5)  # doctest: +SKIP
        >>> with reader:  # doctest: +SKIP
        ...     for frame in reader:
        ...         analyse(frame)
    """

    def __init__(
        self,
        source: FrameSource,
        analysis_fps: float | None,
        *,
        queue_size: int = 1,
        stop_event: threading.Event | None = None,
        policy: QueuePolicy | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        if analysis_fps is not None and not analysis_fps > 0:
            raise ValueError(f"analysis_fps must be > 0 or None, got {analysis_fps}")
        self.source = source
        self.analysis_fps = analysis_fps
        self.stop_event = stop_event if stop_event is not None else threading.Event()
        if policy is None:
            policy = QueuePolicy.DROP_OLDEST if source.live else QueuePolicy.BLOCK
        self.queue = FrameQueue(queue_size, policy)
        if limiter is None and analysis_fps is not None:
            limiter = RateLimiter(analysis_fps)
        self._limiter = limiter
        # A gated source (an RTSP camera) applies the rate before decoding: cheaper.
        self._gated = self._limiter is not None and isinstance(source, GatedSource)
        if self._limiter is not None and isinstance(source, GatedSource):
            source.gate(self._limiter)
        self.ages = FrameAges()
        self._observers: list[Callable[[Frame], None]] = []
        self._queued = 0
        self._skipped = 0
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    @property
    def error(self) -> BaseException | None:
        """Why the capture thread ended early (a :class:`SourceError`), else ``None``."""
        return self._error

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def finished(self) -> bool:
        """The capture thread has ended and every queued frame has been taken."""
        return self.queue.closed and len(self.queue) == 0

    def stats(self) -> ReaderStats:
        source = self.source.stats()
        return ReaderStats(
            source=source,
            frames_queued=self._queued,
            frames_dropped=self.queue.dropped,
            frames_skipped=self._skipped + source.frames_not_due,
            frame_age=self.ages.stats(),
            running=self.running,
        )

    def start(self) -> FrameReader:
        """Start the capture thread (once)."""
        if self._thread is not None:
            raise RuntimeError("FrameReader.start() called twice")
        self._thread = threading.Thread(
            target=self._run, name=f"capture-{self.source.camera_id}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Set the stop event and wait up to ``timeout_s`` for the capture thread.

        A source blocked in a read ends within its read timeout.
        """
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                logger.warning(
                    "camera %s: capture thread still running %.1f s after stop",
                    self.source.camera_id,
                    timeout_s,
                )

    def __enter__(self) -> FrameReader:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add_observer(self, observer: Callable[[Frame], None]) -> None:
        """Show every frame handed over for analysis to ``observer`` (health, snapshots).

        It runs on the thread that calls :meth:`get`, before the frame is analysed: keep it
        cheap. An observer that raises is logged and the frame still goes to analysis.
        """
        self._observers = [*self._observers, observer]

    def get(self, timeout_s: float | None = None) -> Frame | None:
        """The next frame to analyse, or ``None`` after ``timeout_s`` or at the end.

        For a live source, the frame's age (capture to now) is added to :attr:`ages`.
        """
        frame = self.queue.get(timeout_s)
        if frame is None:
            return None
        if self.source.live:
            self.ages.add(time.time() - frame.ts.timestamp())
        for observer in self._observers:
            try:
                observer(frame)
            except Exception:
                logger.exception("camera %s: a frame observer failed", frame.camera_id)
        return frame

    def __iter__(self) -> Iterator[Frame]:
        """Frames until the source ends or the reader stops.

        Raises:
            SourceError: At the end, if the source failed (or whatever else ended the
                capture thread early).
        """
        while True:
            frame = self.get(0.5)
            if frame is not None:
                yield frame
            elif self.finished:
                break
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        camera = self.source.camera_id
        frames = self.source.frames(self.stop_event)
        try:
            for frame in frames:
                limiter = None if self._gated else self._limiter
                if limiter is not None and not limiter.admit(frame.ts.timestamp()):
                    self._skipped += 1
                    continue
                if not self.queue.put(frame, self.stop_event):
                    break
                self._queued += 1
                if self.stop_event.is_set():
                    break
        except SourceError as exc:
            self._error = exc
            logger.error("camera %s: source failed: %s", camera, exc)
        except Exception as exc:  # a bug must not pass silently, nor kill other cameras
            self._error = exc
            logger.error(
                "camera %s: capture thread crashed: %s",
                camera,
                redact_text("".join(traceback.format_exception(exc))),
            )
        finally:
            frames.close()  # runs the source's clean-up (closes the stream) now, in this thread
            self.queue.close()
