"""Zone events (``.../edges/{edge}/events/{camera}``): validate and upsert the case."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from pydantic import ValidationError
from sqlalchemy.orm import Session

from contracts.chain import event_digest
from contracts.events import ZoneEvent
from server import crud, quarantine
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


def _check_times(event: ZoneEvent, *, now: datetime, skew_s: float) -> None:
    """Refuse times beyond ``now`` plus the allowed clock skew (they would pin the case on top)."""
    latest = now + timedelta(seconds=skew_s)
    times = [
        ("first_seen", event.first_seen),
        ("last_seen", event.last_seen),
        ("sent_at", event.sent_at),
    ]
    times += [
        (f"evidence {ref.sha256[:12]} captured_at", ref.captured_at) for ref in event.evidence
    ]
    for name, value in times:
        if value > latest:
            raise IngestRejectedError(
                "future_timestamp",
                f"{name} {value.isoformat()} is more than {skew_s:g} s after the server's "
                f"clock ({now.isoformat()})",
            )


def _upsert_unchained(
    session: Session, event: ZoneEvent, digest: str, *, context: IngestContext, now: datetime
) -> crud.EventUpsert:
    """The case update when the ingest does not require chain records (``require_chain`` off)."""
    return crud.upsert_event(
        session,
        event=event,
        payload=event.model_dump(mode="json"),
        payload_sha256=digest,
        received_at=now,
        caps=context.limits.caps,
    )


def handle_event(
    session: Session, message: IngestMessage, *, context: IngestContext, now: datetime
) -> IngestOutcome:
    """Validate a :class:`contracts.ZoneEvent` message and fold it into its case.

    The message joins its case only when a verified chain record of its edge names it
    (:mod:`server.quarantine`); otherwise it waits in the quarantine with the reason
    (accepted, code ``event_quarantined``). Events carry everything in their JSON body;
    the content type is not looked at.

    Raises:
        IngestRejectedError: Oversized payload, bad JSON, schema violation, topic/payload
            mismatch, a time beyond the allowed clock skew, the edge's rate limit, an
            ``event_id`` that belongs to another camera, a full case or a full quarantine.
    """
    edge_id, camera_id = message.address.edge_id, message.address.key
    payload = message.payload
    limits = context.limits
    if len(payload) > limits.max_event_bytes:
        raise IngestRejectedError(
            "too_large",
            f"{len(payload)} bytes exceeds max_event_bytes {limits.max_event_bytes}",
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
    _check_times(event, now=now, skew_s=limits.max_clock_skew_s)
    if not context.rate.take(edge_id, now):
        raise IngestRejectedError(
            "rate_limited",
            f"edge {edge_id} exceeds {limits.edge_event_rate_per_s:g} events/s "
            f"(burst {limits.edge_event_burst})",
        )
    digest = event_digest(event)  # what the edge's chain record names
    try:
        if limits.require_chain:
            quarantine.expire(session, now=now, max_age_s=limits.quarantine_max_age_s)
            admission = quarantine.admit(
                session, event=event, digest=digest, now=now, caps=limits.caps
            )
            if admission.upsert is None:
                row = quarantine.hold(
                    session,
                    event=event,
                    digest=digest,
                    reason=admission.reason,
                    now=now,
                    max_per_edge=limits.quarantine_max_per_edge,
                )
                crud.touch_edge(session, edge_id=edge_id, at=now)
                return IngestOutcome(
                    topic=message.topic,
                    accepted=True,
                    code="event_quarantined",
                    detail=f"quarantined ({row.id}): {row.reason}",
                )
            result = admission.upsert
        else:
            result = _upsert_unchained(session, event, digest, context=context, now=now)
    except crud.EventConflictError as exc:
        raise IngestRejectedError("event_conflict", str(exc)) from exc
    except crud.CaseCapError as exc:
        raise IngestRejectedError("case_full", str(exc)) from exc
    except quarantine.QuarantineFullError as exc:
        raise IngestRejectedError("quarantine_full", str(exc)) from exc
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
