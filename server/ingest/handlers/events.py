"""Zone events (``.../edges/{edge}/events/{camera}``): validate and upsert the case.

An edge over its rate (a token bucket, :class:`~server.ingest.handlers.base.EdgeRateLimiter`)
loses nothing: its events wait in the quarantine (reason ``rate_limited: ...``) and are
let in, oldest first, as its budget refills (:func:`release_rate_limited`, called by the
ingest's periodic tick). Only an edge whose quarantine is full is refused.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Final

from pydantic import ValidationError
from sqlalchemy.orm import Session

from contracts.chain import event_digest
from contracts.events import ZoneEvent
from server import crud, quarantine
from server.ingest.edge_lock import edge_lock_key, lock_edges
from server.ingest.handlers.base import IngestContext, IngestMessage, validation_rejection
from server.ingest.results import IngestOutcome, IngestRejectedError
from server.tables import QuarantinedEvent, QuarantineOutcome

logger = logging.getLogger(__name__)

RELEASE_BATCH: Final[int] = 500
"""Most rate-limited events of one edge looked at per release (the budget bounds it too)."""


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


def _fold(
    session: Session, event: ZoneEvent, digest: str, *, context: IngestContext, now: datetime
) -> crud.EventUpsert | str:
    """Fold ``event`` into its case; the reason instead when its chain does not admit it.

    Raises:
        crud.EventConflictError: The ``event_id`` belongs to another case identity.
        crud.CaseCapError: The case is full.
    """
    limits = context.limits
    if not limits.require_chain:  # tests of unsigned edges only
        return crud.upsert_event(
            session,
            event=event,
            payload=event.model_dump(mode="json"),
            payload_sha256=digest,
            received_at=now,
            caps=limits.caps,
        )
    quarantine.expire(session, now=now, max_age_s=limits.quarantine_max_age_s)
    admission = quarantine.admit(session, event=event, digest=digest, now=now, caps=limits.caps)
    return admission.upsert if admission.upsert is not None else admission.reason


def _hold_over_rate(
    session: Session, event: ZoneEvent, digest: str, *, context: IngestContext, now: datetime
) -> QuarantinedEvent:
    """Keep an event of an edge over its rate in the quarantine until its budget allows.

    Raises:
        IngestRejectedError: ``rate_limited``: the edge's quarantine is full as well.
    """
    limits = context.limits
    over = (
        f"edge {event.edge_id} is over {limits.edge_event_rate_per_s:g} events/s "
        f"(burst {limits.edge_event_burst})"
    )
    try:
        return quarantine.hold(
            session,
            event=event,
            digest=digest,
            reason=f"{quarantine.RATE_LIMITED}: {over}; it waits for the edge's budget",
            now=now,
            max_per_edge=limits.quarantine_max_per_edge,
        )
    except quarantine.QuarantineFullError as exc:
        raise IngestRejectedError("rate_limited", f"{over} and cannot wait: {exc}") from exc


def _release_row(
    session: Session, row: QuarantinedEvent, *, context: IngestContext, now: datetime
) -> None:
    """Let one rate-limited event in: to its case, or on to wait for its chain record."""
    try:
        event = ZoneEvent.model_validate(row.payload)
        result = _fold(session, event, row.payload_sha256, context=context, now=now)
    except (ValidationError, crud.EventConflictError, crud.CaseCapError) as exc:
        row.reason = f"its edge's rate budget let it in, but: {exc}"
        return
    if isinstance(result, str):
        row.reason = result  # it now waits for its record like any other event
        return
    row.resolved_at = now
    row.outcome = QuarantineOutcome.ADMITTED
    logger.debug(
        "rate-limited event %s of edge %s joined case %d", row.event_id, row.edge_id, result.case_id
    )


def release_rate_limited(session: Session, *, context: IngestContext, now: datetime) -> int:
    """Let in the events held over their edge's rate, oldest first, as far as budgets allow.

    Each event spends one token of its edge's bucket; the caller commits. Each edge is
    locked (:func:`lock_edges`) before its held events are read. Returns how many left
    the rate hold (to their case, or to wait for their chain record).
    """
    released = 0
    # Locked one by one in the order every ingest transaction locks edges (no deadlock).
    for edge_id in sorted(quarantine.rate_limited_edges(session), key=edge_lock_key):
        lock_edges(session, [edge_id])
        count = 0
        for row in quarantine.rate_limited_holds(session, edge_id=edge_id, limit=RELEASE_BATCH):
            if not context.rate.take(edge_id, now):
                break
            _release_row(session, row, context=context, now=now)
            count += 1
        if count:
            session.flush()
            logger.info("let %d rate-limited events of edge %s in", count, edge_id)
        released += count
    return released


def _place(
    session: Session, event: ZoneEvent, digest: str, *, context: IngestContext, now: datetime
) -> crud.EventUpsert | QuarantinedEvent:
    """The event's case update, or its row in the quarantine (over the rate, or unchained).

    Raises:
        crud.EventConflictError: The ``event_id`` belongs to another case identity.
        crud.CaseCapError: The case is full.
        quarantine.QuarantineFullError: The event must wait, but its edge's quarantine is full.
        IngestRejectedError: Over the rate with a full quarantine (``rate_limited``).
    """
    edge_id = event.edge_id
    # Newer events queue behind those already waiting for the edge's budget.
    if quarantine.has_rate_limited(session, edge_id=edge_id) or not context.rate.take(edge_id, now):
        return _hold_over_rate(session, event, digest, context=context, now=now)
    result = _fold(session, event, digest, context=context, now=now)
    if not isinstance(result, str):
        return result
    return quarantine.hold(
        session,
        event=event,
        digest=digest,
        reason=result,
        now=now,
        max_per_edge=context.limits.quarantine_max_per_edge,
    )


def handle_event(
    session: Session, message: IngestMessage, *, context: IngestContext, now: datetime
) -> IngestOutcome:
    """Validate a :class:`contracts.ZoneEvent` message and fold it into its case.

    The message joins its case only when a verified chain record of its edge names it
    (:mod:`server.quarantine`); otherwise it waits in the quarantine with the reason
    (accepted, code ``event_quarantined``). Over the edge's rate, or behind its events
    already waiting for the rate, it waits for the edge's budget (``event_rate_limited``).
    Events carry everything in their JSON body; the content type is not looked at.

    Raises:
        IngestRejectedError: Oversized payload, bad JSON, schema violation, topic/payload
            mismatch, a time beyond the allowed clock skew, an ``event_id`` that belongs
            to another camera, a full case, or a full quarantine (``rate_limited`` when the
            edge is also over its rate).
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
    digest = event_digest(event)  # what the edge's chain record names
    try:
        placed = _place(session, event, digest, context=context, now=now)
    except crud.EventConflictError as exc:
        raise IngestRejectedError("event_conflict", str(exc)) from exc
    except crud.CaseCapError as exc:
        raise IngestRejectedError("case_full", str(exc)) from exc
    except quarantine.QuarantineFullError as exc:
        raise IngestRejectedError("quarantine_full", str(exc)) from exc
    if isinstance(placed, QuarantinedEvent):
        crud.touch_edge(session, edge_id=edge_id, at=now)
        over_rate = placed.reason.startswith(quarantine.RATE_LIMITED)
        return IngestOutcome(
            topic=message.topic,
            accepted=True,
            code="event_rate_limited" if over_rate else "event_quarantined",
            detail=f"quarantined ({placed.id}): {placed.reason}",
        )
    result = placed
    crud.touch_edge(session, edge_id=edge_id, at=now)
    _warn_on_evidence_disagreement(session, event)
    if result.duplicate:
        code, detail = "event_duplicate", f"replay of an already stored {event.phase} message"
    else:
        verb = "created" if result.created else "updated"
        code, detail = "event", f"{event.phase} {verb} case {result.case_id}"
    return IngestOutcome(
        topic=message.topic,
        accepted=True,
        code=code,
        detail=detail,
        case_id=result.case_id,
        sent_at=event.sent_at,
    )
