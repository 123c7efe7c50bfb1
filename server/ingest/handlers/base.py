"""What every handler takes: the message, its context, and the handler signature."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from pydantic import ValidationError
from sqlalchemy.orm import Session

from contracts.topics import EdgeTopic
from server.evidence_store import EvidenceStore
from server.ingest.results import IngestOutcome, IngestRejectedError


@dataclass(frozen=True, slots=True)
class IngestLimits:
    """Size limits applied before any parsing."""

    max_event_bytes: int = 256 * 1024
    max_evidence_bytes: int = 20 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class IngestContext:
    """What the handlers need besides the session: the evidence store and limits."""

    store: EvidenceStore
    limits: IngestLimits = field(default_factory=IngestLimits)


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
