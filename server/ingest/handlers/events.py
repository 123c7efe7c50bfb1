"""Zone events (``.../edges/{edge}/events/{camera}``): validate and upsert the case."""

from __future__ import annotations

import logging
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy.orm import Session

from contracts.chain import event_digest
from contracts.events import ZoneEvent
from server import crud
from server.ingest.handlers.base import IngestContext, IngestMessage, validation_rejection
from server.ingest.results import IngestOutcome, IngestRejectedError

logger = logging.getLogger(__name__)


def _warn_on_evidence_disagreement(session: Session, event: ZoneEvent) -> None:
    """Log when the event describes already stored evidence otherwise than the bytes are."""
    for ref in event.evidence:
        stored = crud.get_evidence(session, sha256=ref.sha256)
        if stored is not None and (
            stored.byte_size != ref.byte_size or stored.content_type != ref.content_type
        ):
            logger.warning(
                "event %s from edge %s describes evidence %s as %s, %d bytes; stored bytes "
                "are %s, %d bytes (stored bytes match the hash and are kept)",
                event.event_id,
                event.edge_id,
                ref.sha256,
                ref.content_type,
                ref.byte_size,
                stored.content_type,
                stored.byte_size,
            )


def handle_event(
    session: Session, message: IngestMessage, *, context: IngestContext, now: datetime
) -> IngestOutcome:
    """Validate a :class:`contracts.ZoneEvent` message and upsert its case.

    Events carry everything in their JSON body; the content type is not looked at.

    Raises:
        IngestRejectedError: Oversized payload, bad JSON, schema violation, topic/payload
            mismatch, or an ``event_id`` that belongs to another camera.
    """
    edge_id, camera_id = message.address.edge_id, message.address.key
    payload = message.payload
    if len(payload) > context.limits.max_event_bytes:
        raise IngestRejectedError(
            "too_large",
            f"{len(payload)} bytes exceeds max_event_bytes {context.limits.max_event_bytes}",
        )
    try:
        event = ZoneEvent.from_json(payload)
    except ValidationError as exc:
        raise validation_rejection(exc, "invalid_event") from exc
    if event.edge_id != edge_id or event.camera_id != camera_id:
        raise IngestRejectedError(
            "topic_mismatch",
            f"payload edge_id/camera_id {event.edge_id}/{event.camera_id} "
            f"do not match topic {edge_id}/{camera_id}",
        )
    try:
        result = crud.upsert_event(
            session,
            event=event,
            payload=event.model_dump(mode="json"),
            payload_sha256=event_digest(event),  # what the edge's chain record names
            received_at=now,
        )
    except crud.EventConflictError as exc:
        raise IngestRejectedError("event_conflict", str(exc)) from exc
    crud.touch_edge(session, edge_id=edge_id, at=now)
    _warn_on_evidence_disagreement(session, event)
    if result.duplicate:
        code, detail = "event_duplicate", f"replay of an already stored {event.phase} message"
    else:
        verb = "created" if result.created else "updated"
        code, detail = "event", f"{event.phase} {verb} case {result.case_id}"
    return IngestOutcome(
        topic=message.topic, accepted=True, code=code, detail=detail, case_id=result.case_id
    )
