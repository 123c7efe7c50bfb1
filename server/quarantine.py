"""The quarantine: event messages that wait for the verified chain record naming them.

An event message becomes part of a case only when a *verified* record of its own edge
names its digest (:func:`contracts.chain.event_digest`) and its event id, and none of
its evidence belongs to another edge's chain. Anything else (a forged event with no
record, a valid event re-published under a new ``event_id``, an altered ``update``, a
record signed by a key not registered yet) waits here with the reason. When the record
arrives or its key is registered (:mod:`server.chain_store`), the message is admitted
(:func:`release`); after ``quarantine_max_age_s`` it ages out (:func:`expire`) and its
row stays, with the reason and the outcome, as the audit of what was refused.

An event over its edge's rate limit waits here too, with a reason that starts with
:data:`RATE_LIMITED`: such a hold leaves only when the edge's budget allows
(:func:`rate_limited_holds`, released by :mod:`server.ingest.handlers.events`), never
because its record arrived, so a flood cannot bypass the rate.

Keyword-only functions on an open session; the caller commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from pydantic import ValidationError
from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from contracts.chain import ChainEntryKind
from contracts.events import ZoneEvent
from server import crud
from server.tables import (
    ChainEvidence,
    ChainEvidenceRole,
    ChainRecordRow,
    Evidence,
    QuarantinedEvent,
    QuarantineOutcome,
)

logger = logging.getLogger(__name__)

RATE_LIMITED: Final[str] = "rate_limited"
"""How the reason of an event held over its edge's rate limit starts."""
AWAITING_RECORD: Final[str] = "no chain record"
"""How the reason of the routine wait starts: the event came before its chain record."""


class QuarantineFullError(ValueError):
    """An edge already has as many events waiting as ``quarantine_max_per_edge`` allows."""


@dataclass(frozen=True, slots=True)
class Admission:
    """What :func:`admit` decided: the upsert when admitted, else why not."""

    upsert: crud.EventUpsert | None
    reason: str


@dataclass(frozen=True, slots=True)
class QuarantinePage:
    """One page of quarantined events, newest first, and how many match in all."""

    items: list[QuarantinedEvent]
    total: int


def foreign_evidence(session: Session, *, edge_id: str, shas: list[str]) -> dict[str, str]:
    """Which of ``shas`` belong to another edge: sha256 -> that edge.

    An evidence item belongs to the edge whose verified chain record lists it, and to the
    edge that sent its bytes; a case may only show its own edge's evidence.
    """
    owners = evidence_owners(session, shas=shas)
    return {
        sha: sorted(others)[0] for sha, edges in owners.items() if (others := edges - {edge_id})
    }


def evidence_owners(session: Session, *, shas: list[str]) -> dict[str, set[str]]:
    """The edges each of ``shas`` belongs to (see :func:`foreign_evidence`): sha256 -> edges.

    An item belongs to every edge whose verified chain record lists it and to the edge that
    sent its bytes; a case shows foreign evidence when one of its items has another owner.
    """
    owners: dict[str, set[str]] = {}
    if not shas:
        return owners
    listed = session.execute(
        select(ChainEvidence.sha256, ChainRecordRow.edge_id)
        .join(ChainRecordRow, ChainEvidence.record_id == ChainRecordRow.id)
        .where(
            ChainEvidence.sha256.in_(shas),
            ChainEvidence.role == ChainEvidenceRole.LISTED,
            ChainRecordRow.verified.is_(True),
        )
    )
    sent = session.execute(
        select(Evidence.sha256, Evidence.edge_id).where(Evidence.sha256.in_(shas))
    )
    for sha, edge in (*listed, *sent):
        owners.setdefault(sha, set()).add(edge)
    return owners


def _record_reason(session: Session, *, event: ZoneEvent, digest: str) -> str | None:
    """``None`` when a verified record of the event's edge names it, else why not."""
    rows = list(
        session.scalars(
            select(ChainRecordRow).where(
                ChainRecordRow.edge_id == event.edge_id,
                ChainRecordRow.event_sha256 == digest,
                ChainRecordRow.kind == ChainEntryKind.EVENT.value,
            )
        )
    )
    if any(row.verified and row.event_id == event.event_id for row in rows):
        return None
    if rows:
        if all(row.event_id != event.event_id for row in rows):
            return f"the chain record naming this digest is for event {rows[0].event_id}"
        return (
            f"its chain record (seq {rows[0].seq}) is unverified: key {rows[0].key_id} "
            "is not registered"
        )
    return f"{AWAITING_RECORD} of edge {event.edge_id} names this message (digest {digest})"


def admit(
    session: Session,
    *,
    event: ZoneEvent,
    digest: str,
    now: datetime,
    caps: crud.CaseCaps,
) -> Admission:
    """Fold ``event`` into its case when its chain says it is genuine.

    Raises:
        crud.EventConflictError: The ``event_id`` belongs to another case identity.
        crud.CaseCapError: The case is full.
    """
    reason = _record_reason(session, event=event, digest=digest)
    if reason is not None:
        return Admission(upsert=None, reason=reason)
    foreign = foreign_evidence(
        session, edge_id=event.edge_id, shas=[ref.sha256 for ref in event.evidence]
    )
    if foreign:
        sha, other = next(iter(foreign.items()))
        return Admission(
            upsert=None, reason=f"evidence {sha} belongs to edge {other}'s chain, not this edge's"
        )
    upsert = crud.upsert_event(
        session,
        event=event,
        payload=event.model_dump(mode="json"),
        payload_sha256=digest,
        received_at=now,
        caps=caps,
    )
    return Admission(upsert=upsert, reason="")


def hold(
    session: Session,
    *,
    event: ZoneEvent,
    digest: str,
    reason: str,
    now: datetime,
    max_per_edge: int,
) -> QuarantinedEvent:
    """Put ``event`` in the quarantine (idempotent on edge and digest).

    Raises:
        QuarantineFullError: The edge already has ``max_per_edge`` events waiting.
    """
    existing = session.scalar(
        select(QuarantinedEvent).where(
            QuarantinedEvent.edge_id == event.edge_id, QuarantinedEvent.payload_sha256 == digest
        )
    )
    if existing is not None:
        return existing
    waiting = session.scalar(
        select(func.count())
        .select_from(QuarantinedEvent)
        .where(QuarantinedEvent.edge_id == event.edge_id, QuarantinedEvent.resolved_at.is_(None))
    )
    if (waiting or 0) >= max_per_edge:
        raise QuarantineFullError(
            f"edge {event.edge_id} already has {waiting} events in the quarantine "
            f"(quarantine_max_per_edge {max_per_edge})"
        )
    row = QuarantinedEvent(
        edge_id=event.edge_id,
        event_id=event.event_id,
        camera_id=event.camera_id,
        phase=event.phase.value,
        payload_sha256=digest,
        payload=event.model_dump(mode="json"),
        reason=reason,
        received_at=now,
        resolved_at=None,
        outcome=None,
    )
    session.add(row)
    session.flush()
    # The usual wait (the event came before its chain record, e.g. in an earlier ingest
    # batch) is routine; any other reason is worth a warning.
    logger.log(
        logging.INFO if reason.startswith(AWAITING_RECORD) else logging.WARNING,
        "event %s (%s) from edge %s quarantined: %s",
        event.event_id,
        event.phase.value,
        event.edge_id,
        reason,
    )
    return row


def release(
    session: Session, *, edge_id: str, event_sha256: str, now: datetime, caps: crud.CaseCaps
) -> list[int]:
    """Admit the waiting messages a newly verified record names; returns their case ids.

    A message that still cannot be admitted (foreign evidence, a conflicting identity, a
    full case) stays in the quarantine with the new reason. Messages held over the edge's
    rate limit are left for the rate (:data:`RATE_LIMITED`).
    """
    rows = list(
        session.scalars(
            select(QuarantinedEvent).where(
                QuarantinedEvent.edge_id == edge_id,
                QuarantinedEvent.payload_sha256 == event_sha256,
                QuarantinedEvent.resolved_at.is_(None),
                ~QuarantinedEvent.reason.startswith(RATE_LIMITED),  # they wait for the budget
            )
        )
    )
    cases: list[int] = []
    for row in rows:
        try:
            event = ZoneEvent.model_validate(row.payload)
            admission = admit(session, event=event, digest=event_sha256, now=now, caps=caps)
        except (ValidationError, crud.EventConflictError, crud.CaseCapError) as exc:
            row.reason = f"its record arrived, but: {exc}"
            continue
        if admission.upsert is None:
            row.reason = admission.reason
            continue
        row.resolved_at = now
        row.outcome = QuarantineOutcome.ADMITTED
        cases.append(admission.upsert.case_id)
        logger.info(
            "event %s of edge %s left the quarantine for case %d: its chain record verified",
            row.event_id,
            edge_id,
            admission.upsert.case_id,
        )
    session.flush()
    return cases


def _rate_limited(edge_id: str | None) -> list[ColumnElement[bool]]:
    conditions = [
        QuarantinedEvent.resolved_at.is_(None),
        QuarantinedEvent.reason.startswith(RATE_LIMITED),
    ]
    if edge_id is not None:
        conditions.append(QuarantinedEvent.edge_id == edge_id)
    return conditions


def has_rate_limited(session: Session, *, edge_id: str) -> bool:
    """Whether events of ``edge_id`` wait for its rate budget (newer ones queue behind)."""
    first = session.scalar(select(QuarantinedEvent.id).where(*_rate_limited(edge_id)).limit(1))
    return first is not None


def rate_limited_edges(session: Session) -> list[str]:
    """The edges with events waiting for their rate budget."""
    query = select(QuarantinedEvent.edge_id).where(*_rate_limited(None)).distinct()
    return sorted(session.scalars(query))


def rate_limited_holds(session: Session, *, edge_id: str, limit: int) -> list[QuarantinedEvent]:
    """The oldest ``limit`` events of ``edge_id`` waiting for its rate budget, in order."""
    return list(
        session.scalars(
            select(QuarantinedEvent)
            .where(*_rate_limited(edge_id))
            .order_by(QuarantinedEvent.id)
            .limit(limit)
        )
    )


def expire(session: Session, *, now: datetime, max_age_s: int) -> int:
    """Age out events that waited longer than ``max_age_s``; returns how many."""
    result = session.execute(
        update(QuarantinedEvent)
        .where(
            QuarantinedEvent.resolved_at.is_(None),
            QuarantinedEvent.received_at < now - timedelta(seconds=max_age_s),
        )
        .values(resolved_at=now, outcome=QuarantineOutcome.EXPIRED)
        .execution_options(synchronize_session=False)
    )
    count = int(getattr(result, "rowcount", 0) or 0)
    if count:
        logger.warning("%d quarantined events aged out without a verified chain record", count)
    return count


def list_quarantine(
    session: Session, *, open_only: bool, limit: int, offset: int
) -> QuarantinePage:
    """Quarantined events, newest first (``open_only``: those still waiting)."""
    conditions = [QuarantinedEvent.resolved_at.is_(None)] if open_only else []
    total = (
        session.scalar(select(func.count()).select_from(QuarantinedEvent).where(*conditions)) or 0
    )
    items = session.scalars(
        select(QuarantinedEvent)
        .where(*conditions)
        .order_by(QuarantinedEvent.received_at.desc(), QuarantinedEvent.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return QuarantinePage(items=list(items), total=total)
