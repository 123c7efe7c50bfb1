"""Whether one track has stayed put, the test behind a *stationary* track."""

from __future__ import annotations

from datetime import datetime

import numpy as np

from edge.tracking.matching import F64


class Stillness:
    """Whether one track has stayed put: its centre within ``max_shift`` of its size.

    Args:
        xyxy: The track's first box.
        ts: When it was seen.

    Example:
        >>> from datetime import UTC, datetime, timedelta
        >>> t0 = datetime(2025, 1, 1, tzinfo=UTC)
        >>> still = Stillness(np.array([0.0, 0.0, 10.0, 10.0]), t0)
        >>> still.observe(np.array([1.0, 0.0, 11.0, 10.0]), t0 + timedelta(seconds=5), 0.25)
        >>> still.still_for_s(t0 + timedelta(seconds=5))
        5.0
    """

    __slots__ = ("_ref", "_since", "_size")

    def __init__(self, xyxy: F64, ts: datetime) -> None:
        self._ref = (xyxy[:2] + xyxy[2:]) / 2.0
        self._size = float(np.mean(xyxy[2:] - xyxy[:2]))
        self._since = ts

    def observe(self, xyxy: F64, ts: datetime, max_shift: float) -> None:
        """Fold in a new box; a centre that moved too far restarts the clock from here."""
        centre = (xyxy[:2] + xyxy[2:]) / 2.0
        size = max(float(np.mean(xyxy[2:] - xyxy[:2])), 1.0)
        if float(np.linalg.norm(centre - self._ref)) > max_shift * max(self._size, size):
            self._ref, self._size, self._since = centre, size, ts

    def still_for_s(self, ts: datetime) -> float:
        """Seconds from when the track settled until ``ts``."""
        return (ts - self._since).total_seconds()
