"""What every handler takes: the message, its context, and the handler signature."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from pydantic import ValidationError
from sqlalchemy.orm import Session

from contracts.limits import MAX_EVIDENCE_BYTES
from contracts.topics import EdgeTopic
from server.core.config import Settings
from server.crud import CaseCaps
from server.evidence_store import EvidenceBackend
from server.ingest.results import IngestOutcome, IngestRejectedError


@dataclass(frozen=True, slots=True)
class IngestLimits:
    """What the ingest accepts: sizes, trust, quotas and caps (see :class:`Settings`)."""

    max_event_bytes: int = 256 * 1024
    max_evidence_bytes: int = MAX_EVIDENCE_BYTES
    require_chain: bool = True
    quarantine_max_age_s: int = 3 * 24 * 3600
    quarantine_max_per_edge: int = 1000
    edge_event_rate_per_s: float = 5.0
    edge_event_burst: int = 600
    caps: CaseCaps = field(default_factory=CaseCaps)
    max_clock_skew_s: float = 300.0
    max_evidence_side_px: int = 8192
    max_evidence_pixels: int = 40_000_000

    @classmethod
    def from_settings(cls, settings: Settings) -> IngestLimits:
        """The limits the server's settings give."""
        return cls(
            max_event_bytes=settings.max_event_bytes,
            max_evidence_bytes=settings.max_evidence_bytes,
            require_chain=settings.ingest_require_chain,
            quarantine_max_age_s=settings.quarantine_max_age_s,
            quarantine_max_per_edge=settings.quarantine_max_per_edge,
            edge_event_rate_per_s=settings.edge_event_rate_per_s,
            edge_event_burst=settings.edge_event_burst,
            caps=CaseCaps(
                max_events=settings.max_events_per_case,
                max_evidence=settings.max_evidence_per_case,
            ),
            max_clock_skew_s=settings.max_clock_skew_s,
            max_evidence_side_px=settings.max_evidence_side_px,
            max_evidence_pixels=settings.max_evidence_pixels,
        )


class EdgeRateLimiter:
    """A token bucket per edge: ``burst`` messages at once, ``rate_per_s`` sustained.

    Time is the message's receive time, so the limiter is deterministic in tests.
    """

    def __init__(self, *, rate_per_s: float, burst: int) -> None:
        self._rate = rate_per_s
        self._burst = float(burst)
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, datetime]] = {}

    def take(self, edge_id: str, now: datetime) -> bool:
        """Spend one token of ``edge_id``; ``False`` when its bucket is empty."""
        with self._lock:
            tokens, since = self._buckets.get(edge_id, (self._burst, now))
            elapsed = max(0.0, (now - since).total_seconds())
            tokens = min(self._burst, tokens + elapsed * self._rate)
            allowed = tokens >= 1.0
            self._buckets[edge_id] = (tokens - 1.0 if allowed else tokens, max(now, since))
            return allowed


@dataclass(frozen=True, slots=True)
class IngestContext:
    """What the handlers need besides the session: the evidence store, limits, rate state."""

    store: EvidenceBackend
    limits: IngestLimits = field(default_factory=IngestLimits)
    rate: EdgeRateLimiter = field(init=False)

    def __post_init__(self) -> None:
        rate = EdgeRateLimiter(
            rate_per_s=self.limits.edge_event_rate_per_s, burst=self.limits.edge_event_burst
        )
        object.__setattr__(self, "rate", rate)


@dataclass(frozen=True, slots=True)
class IngestMessage:
    """One MQTT message whose topic has been read.

    Attributes:
        topic: The topic as it arrived (for outcomes and log lines).
        address: The topic, parsed (:func:`contracts.topics.parse_edge_topic`).
        payload: The bytes.
        content_type: The MQTT v5 ``ContentType`` property, ``None`` when absent.
    """

    topic: str
    address: EdgeTopic
    payload: bytes
    content_type: str | None = None


class Handler(Protocol):
    """Stores one message of its kind in ``session`` (the caller owns the transaction).

    Raises:
        IngestRejectedError: The message is refused; nothing it wrote is kept.
    """

    def __call__(
        self, session: Session, message: IngestMessage, *, context: IngestContext, now: datetime
    ) -> IngestOutcome: ...


def validation_rejection(exc: ValidationError, invalid_code: str) -> IngestRejectedError:
    """The rejection for a payload that failed validation, naming its first problems.

    Args:
        exc: The validation error.
        invalid_code: The code for a schema violation (``bad_json`` is used when the
            payload is not JSON at all).
    """
    errors = exc.errors(include_url=False, include_input=False)
    code = "bad_json" if any(e["type"] == "json_invalid" for e in errors) else invalid_code
    parts = [
        f"{'.'.join(str(item) for item in e['loc']) or 'payload'}: {e['msg']}" for e in errors[:3]
    ]
    more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
    return IngestRejectedError(code, "; ".join(parts) + more)
