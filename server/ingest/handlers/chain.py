"""Signed chain records (``.../edges/{edge}/chain/{seq}``): verify and store them."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from contracts.chain import SignedChainRecord
from server import chain_store, crud
from server.ingest.handlers.base import IngestContext, IngestMessage, validation_rejection
from server.ingest.results import IngestOutcome, IngestRejectedError
from server.tables import QuarantinedEvent, QuarantineOutcome

MAX_CHAIN_RECORD_BYTES: Final[int] = 128 * 1024
"""Largest chain record accepted (a drop record lists at most 1,000 hashes: ~70 kB)."""


def handle_chain(
    session: Session, message: IngestMessage, *, context: IngestContext, now: datetime
) -> IngestOutcome:
    """Verify and store one signed chain record (:mod:`contracts.chain`).

    A record whose signature fails is refused but the issue it raises is committed
    (the outcome is returned, not raised); see :func:`server.chain_store.ingest_record`.

    Raises:
        IngestRejectedError: A key that is not a sequence number, oversized payload, bad
            JSON, schema violation, topic/record mismatch, or content that does not hash
            to the record's hash.
    """
    edge_id, key, payload = message.address.edge_id, message.address.key, message.payload
    if not key.isdigit() or key.startswith("0"):
        raise IngestRejectedError("bad_topic", f"chain topic key {key[:32]!r} is not a seq")
    if len(payload) > MAX_CHAIN_RECORD_BYTES:
        raise IngestRejectedError(
            "too_large", f"{len(payload)} bytes exceeds {MAX_CHAIN_RECORD_BYTES} for a record"
        )
    try:
        signed = SignedChainRecord.from_json(payload)
    except ValidationError as exc:
        raise validation_rejection(exc, "invalid_record") from exc
    record = signed.record
    if record.edge_id != edge_id or str(record.seq) != key:
        raise IngestRejectedError(
            "topic_mismatch",
            f"record edge_id/seq {record.edge_id}/{record.seq} do not match topic {edge_id}/{key}",
        )
    actual = record.digest()
    if actual != signed.hash:
        raise IngestRejectedError(
            "hash_mismatch", f"record content hashes to {actual}, the record says {signed.hash}"
        )
    result = chain_store.ingest_record(session, signed=signed, now=now, caps=context.limits.caps)
    if result.stored:
        crud.touch_edge(session, edge_id=edge_id, at=now)
    admitted = result.admitted
    return IngestOutcome(
        topic=message.topic,
        accepted=result.stored,
        code=result.code,
        detail=result.detail,
        case_id=admitted[0] if admitted else None,
        sent_at=_admitted_sent_at(session, signed, now=now) if admitted else None,
    )


def _admitted_sent_at(
    session: Session, signed: SignedChainRecord, *, now: datetime
) -> datetime | None:
    """When the edge sent the event this record just let out of the quarantine (for latency)."""
    record = signed.record
    payload = session.scalar(
        select(QuarantinedEvent.payload)
        .where(
            QuarantinedEvent.edge_id == record.edge_id,
            QuarantinedEvent.payload_sha256 == record.event_sha256,
            QuarantinedEvent.outcome == QuarantineOutcome.ADMITTED,
            QuarantinedEvent.resolved_at == now,
        )
        .limit(1)
    )
    sent_at = payload.get("sent_at") if isinstance(payload, dict) else None
    return datetime.fromisoformat(sent_at) if isinstance(sent_at, str) else None
