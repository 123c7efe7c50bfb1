"""What becomes of an ingested message: the outcome, the rejection error and the counters."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass


class IngestRejectedError(ValueError):
    """A message is refused; ``code`` is a short metric key, the message says why."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    """What became of one MQTT message.

    Attributes:
        topic: The topic it arrived on.
        accepted: Stored (or already stored: see ``code``).
        code: ``event``, ``event_duplicate``, ``evidence``, ``evidence_duplicate``,
            ``availability`` or a chain store code when accepted; the rejection reason
            code otherwise.
        detail: A human-readable explanation.
        case_id: The case an event went to, if any.
    """

    topic: str
    accepted: bool
    code: str
    detail: str = ""
    case_id: int | None = None


@dataclass(frozen=True, slots=True)
class IngestCounts:
    """A snapshot of :class:`IngestMetrics`."""

    accepted: dict[str, int]
    rejected: dict[str, int]


class IngestMetrics:
    """Thread-safe counters of accepted and rejected messages by code."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accepted: Counter[str] = Counter()
        self._rejected: Counter[str] = Counter()

    def record(self, outcome: IngestOutcome) -> None:
        """Count one outcome under its code."""
        with self._lock:
            (self._accepted if outcome.accepted else self._rejected)[outcome.code] += 1

    def snapshot(self) -> IngestCounts:
        """The counts so far."""
        with self._lock:
            return IngestCounts(accepted=dict(self._accepted), rejected=dict(self._rejected))
