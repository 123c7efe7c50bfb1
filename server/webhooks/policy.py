"""When a failed delivery is tried again: exponential back-off with jitter (pure).

After the n-th failure (n >= 1) the wait is ``min(backoff_max_s, backoff_base_s * 2**(n-1))``
scaled by a factor in ``[0.5, 1.0)`` drawn from ``jitter`` (a number in ``[0, 1)``), so
receivers that failed together are not hit together again. After ``max_attempts`` failures
the delivery is dead (the dead letters) until someone retries it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from server.core.config import WebhookSettings


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how fast a delivery is retried."""

    max_attempts: int
    backoff_base_s: float
    backoff_max_s: float

    @classmethod
    def from_settings(cls, settings: WebhookSettings) -> RetryPolicy:
        return cls(
            max_attempts=settings.max_attempts,
            backoff_base_s=settings.backoff_base_s,
            backoff_max_s=settings.backoff_max_s,
        )

    def delay_s(self, failures: int, jitter: float) -> float:
        """Seconds to wait after the ``failures``-th failure; ``jitter`` in ``[0, 1)``."""
        if failures < 1:
            raise ValueError(f"failures must be at least 1, got {failures}")
        if not 0.0 <= jitter < 1.0:
            raise ValueError(f"jitter must lie in [0, 1), got {jitter}")
        exponent = min(failures - 1, 62)  # 2**62 s is past any sensible maximum already
        ceiling = min(self.backoff_max_s, self.backoff_base_s * 2.0**exponent)
        return ceiling * (0.5 + 0.5 * jitter)

    def after_failure(self, failures: int, *, now: datetime, jitter: float) -> datetime | None:
        """When to try again after ``failures`` failures, or ``None``: dead."""
        if failures >= self.max_attempts:
            return None
        return now + timedelta(seconds=self.delay_s(failures, jitter))
