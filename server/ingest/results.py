"""What becomes of an ingested message: the outcome, the rejection error and the counters."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from contracts.topics import TopicError, parse_edge_topic


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
        sent_at: When the edge sent an accepted event (for the ingest latency metric).
    """

    topic: str
    accepted: bool
    code: str
    detail: str = ""
    case_id: int | None = None
    sent_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class IngestCounts:
    """A snapshot of :class:`IngestMetrics`.

    Attributes:
        accepted: Accepted messages by outcome code.
        rejected: Refused messages by outcome code.
        batches: Group commits (:mod:`server.ingest.committer`) so far.
        batched_messages: The messages those held.
    """

    accepted: dict[str, int]
    rejected: dict[str, int]
    batches: int = 0
    batched_messages: int = 0


def topic_kind(topic: str) -> str:
    """The kind of an edge topic (``events``, ``evidence``, ...), ``unknown`` for others."""
    try:
        return parse_edge_topic(topic).kind.value
    except TopicError:
        return "unknown"


class IngestMetrics:
    """Thread-safe counters of accepted and rejected messages by topic kind and code."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, bool, str]] = Counter()
        self._batches = 0
        self._batched = 0

    def record_batch(self, size: int, seconds: float) -> None:
        """One group commit of ``size`` messages took ``seconds`` (received to acknowledged)."""
        with self._lock:
            self._batches += 1
            self._batched += size

    def record(self, outcome: IngestOutcome) -> None:
        """Count one outcome under its topic's kind and its code."""
        key = (topic_kind(outcome.topic), outcome.accepted, outcome.code)
        with self._lock:
            self._counts[key] += 1

    def by_kind(self) -> dict[tuple[str, bool, str], int]:
        """The counts so far by (topic kind, accepted, code)."""
        with self._lock:
            return dict(self._counts)

    def snapshot(self) -> IngestCounts:
        """The counts so far by code."""
        accepted: Counter[str] = Counter()
        rejected: Counter[str] = Counter()
        for (_kind, ok, code), count in self.by_kind().items():
            (accepted if ok else rejected)[code] += count
        with self._lock:
            batches, batched = self._batches, self._batched
        return IngestCounts(
            accepted=dict(accepted),
            rejected=dict(rejected),
            batches=batches,
            batched_messages=batched,
        )
