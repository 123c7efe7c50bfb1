"""Each camera's looks on a grid of its own phase, so that cameras' due times are spread.

A :class:`PhasedLimiter` is the sources' :class:`~edge.sources.timing.RateLimiter` whose grid
is anchored at ``phase_s`` (seconds on the frame clock, modulo the period) instead of at the
first frame. With a phase from the camera's id (:func:`camera_phase`), N cameras of the same
rate look at N different moments of the period, so their keyframe decodes and inferences do
not all land at once, whenever they connected.

Example:
    >>> limiter = PhasedLimiter(fps=0.25, phase_s=1.0)
    >>> [t for t in (0.0, 0.5, 1.0, 2.0, 4.0, 5.0, 9.0) if limiter.admit(t)]
    [1.0, 5.0, 9.0]
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

from edge.sources.timing import RateLimiter


def camera_phase(camera_id: str, period_s: float) -> float:
    """A phase in ``[0, period_s)`` from the camera's id, the same at every start.

    Example:
        >>> 0.0 <= camera_phase("cam-1", 4.0) < 4.0
        True
    """
    return (zlib.crc32(camera_id.encode("utf-8")) / 2**32) * period_s


@dataclass(slots=True)
class PhasedLimiter(RateLimiter):
    """A rate limiter whose due times are ``phase_s + k / fps`` (frame-clock seconds)."""

    phase_s: float = 0.0

    def grid_at_or_after(self, t: float) -> float:
        """The first due time on this limiter's grid at or after ``t``."""
        period = self.period_s
        k = math.ceil((t - self.phase_s - self.tolerance_s) / period)
        return self.phase_s + k * period

    def due(self, t: float, early_s: float = 0.0) -> bool:
        if self.next_due is None:
            self.next_due = self.grid_at_or_after(t - max(self.tolerance_s, early_s))
        return RateLimiter.due(self, t, early_s)

    def admit(self, t: float, early_s: float = 0.0) -> bool:
        if not self.due(t, early_s):
            return False
        assert self.next_due is not None
        if t - self.next_due >= self.period_s:  # after a gap: back on the grid
            self.next_due = self.grid_at_or_after(t + self.tolerance_s + 1e-9)
            if self.next_due - t < self.period_s / 2:
                self.next_due += self.period_s
        else:
            self.next_due += self.period_s
        return True
