"""Pure timing logic of the sources: reconnect backoff, watchdog, rate limit, pacing.

Nothing here reads a clock or sleeps; every method takes the current time (seconds on any
monotonic scale) as an argument, so the schedules are tested without waiting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


def backoff_delay_s(failures: int, *, initial_s: float, max_s: float, factor: float = 2.0) -> float:
    """The wait before the next attempt after ``failures`` consecutive failures.

    Args:
        failures: Consecutive failed attempts so far (``>= 1``; ``0`` means no wait).
        initial_s: The wait after the first failure.
        max_s: The cap.
        factor: Growth per further failure.

    Returns:
        ``min(max_s, initial_s * factor ** (failures - 1))``, or ``0.0`` for no failures.

    Example:
        >>> [backoff_delay_s(n, initial_s=1, max_s=10) for n in range(6)]
        [0.0, 1.0, 2.0, 4.0, 8.0, 10.0]
    """
    if failures < 0:
        raise ValueError(f"failures must be >= 0, got {failures}")
    if initial_s <= 0 or max_s < initial_s or factor < 1:
        raise ValueError(
            f"need 0 < initial_s <= max_s and factor >= 1, got {initial_s}, {max_s}, {factor}"
        )
    if failures == 0:
        return 0.0
    exponent = failures - 1
    # Compare exponents first: after a day of outage factor**exponent would overflow.
    if factor > 1 and exponent >= math.log(max_s / initial_s) / math.log(factor):
        return float(max_s)
    return float(min(max_s, initial_s * factor**exponent))


@dataclass(slots=True)
class Backoff:
    """Exponential backoff between reconnect attempts.

    Call :meth:`on_failure` after each failed attempt; it returns when to try next.
    Call :meth:`on_success` once the stream delivers again, which resets the schedule.

    Example:
        >>> b = Backoff(initial_s=1.0, max_s=4.0)
        >>> [b.on_failure(now=100.0) for _ in range(4)]
        [101.0, 102.0, 104.0, 104.0]
    """

    initial_s: float
    max_s: float
    factor: float = 2.0
    failures: int = 0

    def __post_init__(self) -> None:
        backoff_delay_s(0, initial_s=self.initial_s, max_s=self.max_s, factor=self.factor)

    @property
    def delay_s(self) -> float:
        """The wait that the current number of failures calls for."""
        return backoff_delay_s(
            self.failures, initial_s=self.initial_s, max_s=self.max_s, factor=self.factor
        )

    def on_failure(self, now: float) -> float:
        """Count a failed attempt at ``now``; returns the time of the next attempt."""
        self.failures += 1
        return now + self.delay_s

    def on_success(self) -> None:
        """The stream works again: the next failure waits ``initial_s``."""
        self.failures = 0


@dataclass(slots=True)
class Watchdog:
    """Notices a stream that has delivered no frame for ``timeout_s``.

    Example:
        >>> w = Watchdog(timeout_s=5.0, last_fed=0.0)
        >>> w.expired(4.0), w.expired(5.5)
        (False, True)
    """

    timeout_s: float
    last_fed: float

    def __post_init__(self) -> None:
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s}")

    def feed(self, now: float) -> None:
        """A frame arrived at ``now``."""
        self.last_fed = now

    def silent_for(self, now: float) -> float:
        """Seconds since the last frame."""
        return max(0.0, now - self.last_fed)

    def expired(self, now: float) -> bool:
        """True once no frame has come for longer than ``timeout_s``."""
        return self.silent_for(now) > self.timeout_s


@dataclass(slots=True)
class RateLimiter:
    """Admits frames at no more than ``fps`` per second of frame time.

    Frames are admitted on a grid of ``1 / fps`` so that, for example, a 25 fps stream
    limited to 10 fps yields exactly 10 frames per second rather than 8.33 (every third
    frame). After a gap longer than one period the grid restarts at the next frame.

    Example:
        >>> r = RateLimiter(fps=10.0)
        >>> [r.admit(i * 0.04) for i in range(6)]
        [True, False, False, True, False, True]
    """

    fps: float
    next_due: float | None = field(default=None)
    # Frame times jitter by a few ms on live streams; admit a frame this early.
    tolerance_s: float = 0.002

    def __post_init__(self) -> None:
        if not self.fps > 0:
            raise ValueError(f"fps must be > 0, got {self.fps}")

    @property
    def period_s(self) -> float:
        return 1.0 / self.fps

    def due(self, t: float, early_s: float = 0.0) -> bool:
        """Whether a frame at time ``t`` would be admitted (nothing changes)."""
        return self.next_due is None or t >= self.next_due - max(self.tolerance_s, early_s)

    def admit(self, t: float, early_s: float = 0.0) -> bool:
        """Whether the frame at time ``t`` (seconds) should be analysed.

        Args:
            t: The frame's time.
            early_s: Admit a frame up to this much before it is due (keyframe-only decoding:
                keyframes come on their own grid, and waiting for the one after the due
                time would halve the rate). The grid keeps its phase, so the rate holds.
        """
        if not self.due(t, early_s):
            return False
        if self.next_due is None or t - self.next_due >= self.period_s:
            self.next_due = t + self.period_s  # first frame, or after a gap: restart the grid
        else:
            self.next_due += self.period_s
        return True


@dataclass(slots=True)
class CaptureClock:
    """Maps a stream's media timestamps to the wall-clock time of capture.

    A camera stamps each frame (RTP time); the first frame anchors media time to the wall
    clock, and every later frame's capture time is the anchor plus its media time. A
    frame that waited in a socket buffer or behind a busy decoder thus keeps the time it
    was taken, and its age at analysis is its real age. A frame that seems to come from
    the future (it was received faster than the anchor frame) moves the anchor to it;
    a stream whose media time jumps backwards or far ahead starts a new anchor.

    Example:
        >>> c = CaptureClock()
        >>> c.capture_time(10.0, now=1000.5), c.capture_time(12.0, now=1003.0)
        (1000.5, 1002.5)
        >>> c.capture_time(None, now=1003.2)  # no media time: the wall clock
        1003.2
    """

    max_ahead_s: float = 0.02
    max_behind_s: float = 60.0
    offset_s: float | None = None
    last_media_s: float | None = None

    def capture_time(self, media_s: float | None, now: float) -> float:
        """The capture time (seconds on the scale of ``now``) of a frame at ``media_s``."""
        if media_s is None:
            return now
        if (
            self.offset_s is None
            or (self.last_media_s is not None and media_s < self.last_media_s)
            or media_s + self.offset_s > now + self.max_ahead_s
            or now - (media_s + self.offset_s) > self.max_behind_s
        ):
            self.offset_s = now - media_s
        self.last_media_s = media_s
        return media_s + self.offset_s


@dataclass(slots=True)
class KeyframeInterval:
    """The interval between a stream's keyframes, measured from their media times.

    Example:
        >>> k = KeyframeInterval()
        >>> k.seen(0.0), k.seen(2.0), k.interval_s, k.early_s
        (None, 2.0, 2.0, 1.0)
    """

    interval_s: float | None = None
    last_s: float | None = None

    def seen(self, media_s: float | None) -> float | None:
        """Note a keyframe at ``media_s``; returns the interval since the previous one."""
        if media_s is None:
            return None
        gap = media_s - self.last_s if self.last_s is not None else None
        self.last_s = media_s
        if gap is not None and gap > 0:
            self.interval_s = gap
            return gap
        return None

    @property
    def early_s(self) -> float:
        """How early a keyframe may come and still count as due: half an interval."""
        return self.interval_s / 2 if self.interval_s is not None else 0.0


@dataclass(slots=True)
class Pacer:
    """Paces frames of a file at their media time, as a camera would deliver them.

    ``start`` is the clock time that media time 0 maps to. When the consumer falls behind
    by more than ``max_lag_s``, the mapping moves forward instead of bursting to catch up.

    Example:
        >>> p = Pacer(start=10.0)
        >>> p.wait_s(media_t=0.5, now=10.2)
        0.3
    """

    start: float
    max_lag_s: float = 1.0

    def wait_s(self, media_t: float, now: float) -> float:
        """Seconds to wait before delivering the frame at ``media_t``; ``0`` when it is due."""
        due = self.start + media_t
        if now - due > self.max_lag_s:
            self.start = now - media_t
            return 0.0
        return round(max(0.0, due - now), 9)
