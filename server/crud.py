"""Keyword-only database operations on cases, evidence, reviews and edges.

Callers own the transaction: these functions add and flush, never commit.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, selectinload

from contracts.events import EventPhase, ZoneEvent
from server.tables import (
    Case,
    CaseEvent,
    CaseEvidence,
    CaseReview,
    CaseStatus,
    Edge,
    EdgeAvailability,
    Evidence,
    ReviewVerdict,
)

logger = logging.getLogger(__name__)

_PHASE_RANK = {EventPhase.START: 0, EventPhase.UPDATE: 1, EventPhase.END: 2}

_TRANSITIONS: dict[tuple[CaseStatus, ReviewVerdict], CaseStatus] = {
    (CaseStatus.CANDIDATE, ReviewVerdict.CONFIRM): CaseStatus.CONFIRMED,
    (CaseStatus.CANDIDATE, ReviewVerdict.REJECT): CaseStatus.REJECTED,
    (CaseStatus.CANDIDATE, ReviewVerdict.ESCALATE): CaseStatus.ESCALATED,
    (CaseStatus.ESCALATED, ReviewVerdict.CONFIRM): CaseStatus.CONFIRMED,
    (CaseStatus.ESCALATED, ReviewVerdict.REJECT): CaseStatus.REJECTED,
}
"""Allowed review moves. Confirmed and rejected are final; escalated awaits a decision."""


class EventConflictError(ValueError):
    """An event reuses an ``event_id`` that belongs to a different edge, camera, zone or rule."""


class ReviewConflictError(ValueError):
    """The verdict is not allowed from the case's current status."""


class ChainNotVerifiedError(ReviewConflictError):
    """A confirmation of a case whose chain is not verified, without an explicit override."""


class CaseCapError(ValueError):
    """The case already holds as many messages or evidence items as a case may."""


@dataclass(frozen=True, slots=True)
class CaseCaps:
    """How much one case may grow: distinct event messages and evidence references.

    An ``end`` message is taken even when the case is full (so the case closes), once.
    """

    max_events: int = 200
    max_evidence: int = 64


@dataclass(frozen=True, slots=True)
class EventUpsert:
    """What :func:`upsert_event` did.

    Attributes:
        case_id: The case the message belongs to.
        created: A new case was made.
        duplicate: The identical message was already stored; nothing changed.
    """

    case_id: int
    created: bool
    duplicate: bool


@dataclass(frozen=True, slots=True)
class CaseQuery:
    """Filters for :func:`list_cases`; ``None`` means no filter. Times bound ``first_seen``."""

    camera_id: str | None = None
    zone_id: str | None = None
    violation_type: str | None = None
    status: CaseStatus | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class CasePage:
    """One page of cases, newest first, and how many match in all."""

    items: list[Case]
    total: int


def _identity(event: ZoneEvent) -> dict[str, str]:
    return {
        "edge_id": event.edge_id,
        "camera_id": event.camera_id,
        "zone_id": event.zone_id,
        "rule": event.rule,
        "violation_type": event.violation_type.value,
    }


def _apply_state(case: Case, event: ZoneEvent) -> None:
    """Copy the observation fields of ``event`` (the newest message so far) onto ``case``."""
    case.label = event.label
    case.confidence = event.confidence
    case.box_x1, case.box_y1 = event.box.x1, event.box.y1
    case.box_x2, case.box_y2 = event.box.x2, event.box.y2
    case.last_seen = event.last_seen
    case.last_sent_at = event.sent_at
    case.model_name = event.model.name
    case.model_version = event.model.version
    case.model_sha256 = event.model.sha256


def _merge(case: Case, event: ZoneEvent) -> None:
    """Fold ``event`` into ``case`` so that the result does not depend on arrival order."""
    if event.first_seen < case.first_seen:
        case.first_seen = event.first_seen
    if (event.last_seen, event.sent_at) > (case.last_seen, case.last_sent_at):
        _apply_state(case, event)
    case.dwell_s = max(case.dwell_s, event.dwell_s)
    if _PHASE_RANK[event.phase] > _PHASE_RANK[case.phase]:
        case.phase = event.phase


def get_case(session: Session, *, case_id: int) -> Case | None:
    """The case with its events, evidence and reviews loaded, or ``None``."""
    return session.scalar(
        select(Case)
        .where(Case.id == case_id)
        .options(
            selectinload(Case.events),
            selectinload(Case.evidence),
            selectinload(Case.reviews),
        )
    )


def get_case_by_event_id(session: Session, *, event_id: str) -> Case | None:
    return session.scalar(select(Case).where(Case.event_id == event_id))


def upsert_event(
    session: Session,
    *,
    event: ZoneEvent,
    payload: dict[str, object],
    payload_sha256: str,
    received_at: datetime,
    caps: CaseCaps | None = None,
) -> EventUpsert:
    """Create or update the case for ``event.event_id`` and record the message once.

    Args:
        session: Open session; the caller commits.
        event: The validated message.
        payload: Its canonical JSON form, stored with the case's events.
        payload_sha256: Hash of the canonical JSON; an identical replay changes nothing.
        received_at: When the server received it (UTC).
        caps: How much one case may grow (:class:`CaseCaps`; the defaults when ``None``).

    Returns:
        Which case it went to and whether it was new or a duplicate.

    Raises:
        EventConflictError: The ``event_id`` belongs to another edge, camera, zone or rule.
        CaseCapError: The case is full (messages or evidence); nothing is changed.
    """
    caps = caps or CaseCaps()
    case = get_case_by_event_id(session, event_id=event.event_id)
    created = case is None
    if case is None:
        case = Case(
            event_id=event.event_id,
            **_identity(event),
            first_seen=event.first_seen,
            dwell_s=event.dwell_s,
            phase=event.phase,
            status=CaseStatus.CANDIDATE,
            created_at=received_at,
            updated_at=received_at,
        )
        _apply_state(case, event)
        session.add(case)
        session.flush()
    else:
        stored = {key: str(getattr(case, key)) for key in _identity(event)}
        if stored != _identity(event):
            differing = ", ".join(
                f"{key} {stored[key]!r} != {value!r}"
                for key, value in _identity(event).items()
                if stored[key] != value
            )
            raise EventConflictError(
                f"event_id {event.event_id} already belongs to case {case.id}: {differing}"
            )
        seen = session.scalar(
            select(CaseEvent.id).where(
                CaseEvent.case_id == case.id, CaseEvent.payload_sha256 == payload_sha256
            )
        )
        if seen is not None:
            return EventUpsert(case_id=case.id, created=False, duplicate=True)
        _check_caps(session, case=case, event=event, caps=caps)
        _merge(case, event)
        case.updated_at = received_at
    session.add(
        CaseEvent(
            case_id=case.id,
            phase=event.phase,
            sent_at=event.sent_at,
            received_at=received_at,
            payload_sha256=payload_sha256,
            payload=payload,
        )
    )
    linked = set(
        session.scalars(select(CaseEvidence.sha256).where(CaseEvidence.case_id == case.id))
    )
    for ref in event.evidence:
        if ref.sha256 in linked:
            continue
        if len(linked) >= caps.max_evidence:  # only an end gets here with a full case
            logger.warning(
                "case %d holds %d evidence items (the cap); evidence %s of its %s is not linked",
                case.id,
                len(linked),
                ref.sha256,
                event.phase,
            )
            continue
        linked.add(ref.sha256)
        session.add(
            CaseEvidence(
                case_id=case.id,
                sha256=ref.sha256,
                kind=ref.kind.value,
                content_type=ref.content_type,
                byte_size=ref.byte_size,
                captured_at=ref.captured_at,
            )
        )
    session.flush()
    return EventUpsert(case_id=case.id, created=created, duplicate=False)


def _check_caps(session: Session, *, case: Case, event: ZoneEvent, caps: CaseCaps) -> None:
    """Refuse a message that would grow a full case (an end is let through, once)."""
    events = session.scalar(
        select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case.id)
    )
    linked = set(
        session.scalars(select(CaseEvidence.sha256).where(CaseEvidence.case_id == case.id))
    )
    new_evidence = {ref.sha256 for ref in event.evidence} - linked
    if event.phase is EventPhase.END:
        ends = session.scalar(
            select(func.count())
            .select_from(CaseEvent)
            .where(CaseEvent.case_id == case.id, CaseEvent.phase == EventPhase.END)
        )
        if not ends:
            return
    if (events or 0) >= caps.max_events:
        raise CaseCapError(
            f"case {case.id} already holds {events} messages (max_events_per_case "
            f"{caps.max_events}); {event.phase} of event {event.event_id} refused"
        )
    if len(linked) + len(new_evidence) > caps.max_evidence:
        raise CaseCapError(
            f"case {case.id} would reference {len(linked) + len(new_evidence)} evidence items "
            f"(max_evidence_per_case {caps.max_evidence}); {event.phase} refused"
        )


def get_evidence(session: Session, *, sha256: str) -> Evidence | None:
    return session.get(Evidence, sha256)


def evidence_references(session: Session, *, sha256: str) -> list[CaseEvidence]:
    """Every case's reference to ``sha256`` (the event may name it before the bytes arrive)."""
    return list(session.scalars(select(CaseEvidence).where(CaseEvidence.sha256 == sha256)))


def add_evidence(
    session: Session,
    *,
    sha256: str,
    content_type: str,
    byte_size: int,
    edge_id: str,
    received_at: datetime,
) -> bool:
    """Record stored evidence bytes; returns ``False`` if they were already recorded."""
    if session.get(Evidence, sha256) is not None:
        return False
    session.add(
        Evidence(
            sha256=sha256,
            content_type=content_type,
            byte_size=byte_size,
            edge_id=edge_id,
            received_at=received_at,
        )
    )
    session.flush()
    return True


def list_cases(
    session: Session,
    *,
    query: CaseQuery,
    limit: int,
    offset: int,
    where: Sequence[ColumnElement[bool]] = (),
) -> CasePage:
    """Cases matching ``query`` and ``where`` (e.g. a unit scope), newest ``first_seen`` first,
    with evidence loaded."""
    conditions: list[ColumnElement[bool]] = list(where)
    if query.camera_id is not None:
        conditions.append(Case.camera_id == query.camera_id)
    if query.zone_id is not None:
        conditions.append(Case.zone_id == query.zone_id)
    if query.violation_type is not None:
        conditions.append(Case.violation_type == query.violation_type)
    if query.status is not None:
        conditions.append(Case.status == query.status)
    if query.since is not None:
        conditions.append(Case.first_seen >= query.since)
    if query.until is not None:
        conditions.append(Case.first_seen < query.until)
    total = session.scalar(select(func.count()).select_from(Case).where(*conditions)) or 0
    items = session.scalars(
        select(Case)
        .where(*conditions)
        .order_by(Case.first_seen.desc(), Case.id.desc())
        .limit(limit)
        .offset(offset)
        .options(selectinload(Case.evidence))
    )
    return CasePage(items=list(items), total=total)


def review_case(
    session: Session,
    *,
    case: Case,
    verdict: ReviewVerdict,
    reason: str | None,
    reviewer: str | None,
    now: datetime,
    chain_status: str | None = None,
    chain_override: bool = False,
) -> Case:
    """Apply a reviewer's verdict and record it in the audit trail.

    Args:
        chain_status: The case's chain status now (:func:`server.chain_store.case_chain`);
            recorded with the verdict. ``None`` only where no chain is kept (tests).
        chain_override: The reviewer explicitly confirms a case whose chain is not
            ``verified``; recorded with the verdict.

    Raises:
        ReviewConflictError: The verdict is not allowed from the case's status
            (confirmed and rejected are final; escalated cannot be escalated again).
        ChainNotVerifiedError: A confirmation of a case whose chain is not verified,
            without ``chain_override``.
    """
    target = _TRANSITIONS.get((case.status, verdict))
    if target is None:
        raise ReviewConflictError(f"case {case.id} is {case.status.value}; cannot {verdict.value}")
    unverified = chain_status is not None and chain_status != "verified"
    if verdict is ReviewVerdict.CONFIRM and unverified and not chain_override:
        raise ChainNotVerifiedError(
            f"case {case.id}'s evidence chain is {chain_status}; confirming it needs an "
            "explicit override with a reason"
        )
    case.reviews.append(
        CaseReview(
            case_id=case.id,
            verdict=verdict,
            status_before=case.status,
            status_after=target,
            reason=reason,
            reviewer=reviewer,
            created_at=now,
            chain_status=chain_status,
            chain_override=bool(chain_override and unverified),
        )
    )
    if chain_override and unverified:
        logger.warning(
            "case %d %s by %s with its chain %s (explicit override): %s",
            case.id,
            verdict.value,
            reviewer or "-",
            chain_status,
            reason,
        )
    case.status = target
    case.review_reason = reason
    case.reviewer = reviewer
    case.reviewed_at = now
    case.updated_at = now
    session.flush()
    return case


def touch_edge(session: Session, *, edge_id: str, at: datetime) -> Edge:
    """Note that a message came from ``edge_id``; creates the edge row on first sight."""
    edge = session.get(Edge, edge_id)
    if edge is None:
        edge = Edge(edge_id=edge_id, availability=None, first_seen_at=at, last_message_at=at)
        session.add(edge)
    elif at > edge.last_message_at:
        edge.last_message_at = at
    session.flush()
    return edge


def set_edge_availability(
    session: Session, *, edge_id: str, availability: EdgeAvailability, at: datetime
) -> Edge:
    """Record an edge's announced availability."""
    edge = touch_edge(session, edge_id=edge_id, at=at)
    edge.availability = availability
    edge.availability_at = at
    session.flush()
    return edge


def list_edges(session: Session) -> list[Edge]:
    return list(session.scalars(select(Edge).order_by(Edge.edge_id)))
