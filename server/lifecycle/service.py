"""The lifecycle in the database: every move writes its transition row and file record.

Keyword-only functions; the caller owns the transaction (they add and flush, never
commit), so a status change, its ``case_transitions`` row and its ``case_file_records``
link are committed together or not at all. Each function checks, in this order: the
principal handles the case (:func:`require_handles`, else :class:`NotInScopeError`, 403;
visibility itself, 404, is the route's), the move is allowed from the case's status
(:class:`~server.lifecycle.transitions.TransitionConflictError`, 409), and the input makes
sense (:class:`InvalidInputError`, 422).

Example:
    >>> dispatch(session, case=case, actor=principal, scope=scope, team_unit_id="t1",
    ...          deadline_at=None, note=None, now=utcnow(), settings=settings.lifecycle)
    ... # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.auth import Principal
from server.core.config import LifecycleSettings
from server.evidence_store import EvidenceBackend
from server.lifecycle.file_chain import DISPOSAL_KIND
from server.lifecycle.photos import PhotoInfo
from server.lifecycle.records import SYSTEM_ACTOR, append_record, record_transition
from server.lifecycle.tables import (
    CaseDisposal,
    CaseDisposalPhoto,
    CaseTransition,
    TransitionAction,
)
from server.lifecycle.transitions import TransitionConflictError, default_deadline, next_status
from server.org.scope import Scope, home_unit
from server.org.tables import UnitLevel
from server.tables import Case, CaseReview, CaseStatus, ReviewVerdict

logger = logging.getLogger(__name__)


class NotInScopeError(ValueError):
    """The principal sees the case but does not handle it (HTTP 403)."""


class InvalidInputError(ValueError):
    """The request names a wrong team, a past deadline or lacks a note (HTTP 422)."""


def lock_case(session: Session, *, case_id: int) -> Case | None:
    """The case, locked for this transaction (PostgreSQL; SQLite serialises writers)."""
    return session.scalar(select(Case).where(Case.id == case_id).with_for_update())


def _move(
    session: Session,
    *,
    case: Case,
    action: TransitionAction,
    actor: Principal,
    now: datetime,
    note: str | None,
    detail: dict[str, Any],
    reopen_to: CaseStatus | None = None,
) -> CaseTransition:
    target = next_status(case.status, action, reopen_to=reopen_to)
    return record_transition(
        session,
        case=case,
        action=action,
        from_status=case.status,
        to_status=target,
        actor=actor.username,
        unit_id=actor.unit_id,
        at=now,
        note=note,
        detail=detail,
    )


def require_handles(session: Session, *, case: Case, scope: Scope) -> str | None:
    """The case's home unit, if the principal's scope covers it.

    Raises:
        NotInScopeError: The case is handled by a unit outside the principal's subtree
            (e.g. escalated above it).
    """
    home = home_unit(session, case)
    if not scope.covers(home):
        raise NotInScopeError(
            f"case {case.id} is handled by {home or 'the city'}; "
            f"unit {scope.unit_id} may view it but not act on it"
        )
    return home


def _team_of(scope: Scope, *, team_unit_id: str, home: str | None) -> None:
    node = scope.index.nodes.get(team_unit_id)
    if node is None or node.level is not UnitLevel.TEAM:
        raise InvalidInputError(f"unit {team_unit_id!r} is not a team")
    if home is not None and team_unit_id not in scope.index.subtree(home):
        raise InvalidInputError(f"team {team_unit_id!r} is not under the case's unit {home!r}")
    if not scope.covers(team_unit_id):
        raise InvalidInputError(f"team {team_unit_id!r} is not under your unit {scope.unit_id!r}")


def _deadline(
    case: Case, *, deadline_at: datetime | None, now: datetime, settings: LifecycleSettings
) -> datetime:
    deadline = deadline_at or default_deadline(case.violation_type, now=now, settings=settings)
    if deadline <= now:
        raise InvalidInputError("deadline_at must be in the future")
    return deadline


def dispatch(
    session: Session,
    *,
    case: Case,
    actor: Principal,
    scope: Scope,
    team_unit_id: str,
    deadline_at: datetime | None,
    note: str | None,
    now: datetime,
    settings: LifecycleSettings,
) -> CaseTransition:
    """Send a confirmed case to a team under its unit, with a deadline."""
    home = require_handles(session, case=case, scope=scope)
    next_status(case.status, TransitionAction.DISPATCH)
    _team_of(scope, team_unit_id=team_unit_id, home=home)
    deadline = _deadline(case, deadline_at=deadline_at, now=now, settings=settings)
    case.team_unit_id = team_unit_id
    case.deadline_at = deadline
    case.overdue_at = None
    return _move(
        session,
        case=case,
        action=TransitionAction.DISPATCH,
        actor=actor,
        now=now,
        note=note,
        detail={"team_unit_id": team_unit_id, "deadline_at": deadline.isoformat()},
    )


def dispose(
    session: Session,
    *,
    case: Case,
    actor: Principal,
    scope: Scope,
    note: str,
    photos: Sequence[tuple[PhotoInfo, bytes]],
    store: EvidenceBackend,
    now: datetime,
) -> CaseDisposal:
    """Record a team's disposal: the photos go to the evidence store, then the rows.

    Raises:
        NotInScopeError: The case is not dispatched to the principal's team.
        InvalidInputError: No photo or no note.
    """
    if not scope.covers(case.team_unit_id):
        raise NotInScopeError(f"case {case.id} is not dispatched to a team of yours")
    next_status(case.status, TransitionAction.DISPOSE)
    if not photos:
        raise InvalidInputError("a disposal needs at least one photo")
    if not note.strip():
        raise InvalidInputError("a disposal needs a note saying what was done")
    unique = {info.sha256: (info, data) for info, data in photos}
    for sha256, (_, data) in unique.items():
        if not store.exists(sha256):
            store.write(sha256, data)
    disposal = CaseDisposal(
        case_id=case.id, unit_id=case.team_unit_id, note=note, by=actor.username, at=now
    )
    session.add(disposal)
    session.flush()
    described = []
    for info, _ in unique.values():
        session.add(
            CaseDisposalPhoto(
                disposal_id=disposal.id,
                sha256=info.sha256,
                content_type=info.content_type,
                byte_size=info.byte_size,
                width=info.width,
                height=info.height,
            )
        )
        described.append(
            {
                "sha256": info.sha256,
                "content_type": info.content_type,
                "byte_size": info.byte_size,
                "width": info.width,
                "height": info.height,
            }
        )
    session.flush()
    append_record(
        session,
        case_id=case.id,
        kind=DISPOSAL_KIND,
        at=now,
        actor=actor.username,
        payload={
            "disposal_id": disposal.id,
            "unit_id": disposal.unit_id,
            "note": note,
            "photos": described,
        },
    )
    _move(
        session,
        case=case,
        action=TransitionAction.DISPOSE,
        actor=actor,
        now=now,
        note=note,
        detail={"disposal_id": disposal.id, "photos": list(unique)},
    )
    return disposal


def verify(
    session: Session,
    *,
    case: Case,
    actor: Principal,
    scope: Scope,
    accepted: bool,
    note: str | None,
    now: datetime,
) -> CaseTransition:
    """Accept a disposal (verified) or send the case back to its team (a note is required)."""
    require_handles(session, case=case, scope=scope)
    action = TransitionAction.VERIFY if accepted else TransitionAction.SEND_BACK
    next_status(case.status, action)
    if not accepted and not (note or "").strip():
        raise InvalidInputError("sending a disposal back needs a note saying why")
    return _move(session, case=case, action=action, actor=actor, now=now, note=note, detail={})


def close(
    session: Session,
    *,
    case: Case,
    actor: Principal,
    scope: Scope,
    note: str | None,
    now: datetime,
) -> CaseTransition:
    """Close a verified case."""
    require_handles(session, case=case, scope=scope)
    next_status(case.status, TransitionAction.CLOSE)
    case.closed_at = now
    return _move(
        session,
        case=case,
        action=TransitionAction.CLOSE,
        actor=actor,
        now=now,
        note=note,
        detail={},
    )


def reopen(
    session: Session,
    *,
    case: Case,
    actor: Principal,
    scope: Scope,
    reason: str,
    to: CaseStatus,
    deadline_at: datetime | None,
    now: datetime,
    settings: LifecycleSettings,
) -> CaseTransition:
    """Reopen a closed or rejected case: for review again, or back to its last team."""
    require_handles(session, case=case, scope=scope)
    next_status(case.status, TransitionAction.REOPEN, reopen_to=to)
    detail: dict[str, Any] = {}
    if to is CaseStatus.DISPATCHED:
        if case.team_unit_id is None:
            raise TransitionConflictError(
                f"case {case.id} was never dispatched; reopen it as candidate"
            )
        deadline = _deadline(case, deadline_at=deadline_at, now=now, settings=settings)
        case.deadline_at = deadline
        detail = {"team_unit_id": case.team_unit_id, "deadline_at": deadline.isoformat()}
    else:
        case.team_unit_id = None
        case.deadline_at = None
    case.overdue_at = None
    case.closed_at = None
    return _move(
        session,
        case=case,
        action=TransitionAction.REOPEN,
        actor=actor,
        now=now,
        note=reason,
        detail=detail,
        reopen_to=to,
    )


def escalate(
    session: Session,
    *,
    case: Case,
    actor: Principal,
    scope: Scope,
    note: str,
    now: datetime,
) -> CaseTransition:
    """Move the case to the unit above the one handling it."""
    home = require_handles(session, case=case, scope=scope)
    next_status(case.status, TransitionAction.ESCALATE)
    node = scope.index.nodes.get(home) if home is not None else None
    if node is None or node.parent_id is None:
        raise TransitionConflictError(
            f"case {case.id} is handled by {home or 'the city'}: there is no unit above"
        )
    case.assigned_unit_id = node.parent_id
    return _move(
        session,
        case=case,
        action=TransitionAction.ESCALATE,
        actor=actor,
        now=now,
        note=note,
        detail={"from_unit_id": home, "to_unit_id": node.parent_id},
    )


_VERDICT_ACTIONS = {
    ReviewVerdict.CONFIRM: TransitionAction.CONFIRM,
    ReviewVerdict.REJECT: TransitionAction.REJECT,
    ReviewVerdict.ESCALATE: TransitionAction.ESCALATE,
}


def record_review(
    session: Session, *, case: Case, review: CaseReview, actor: Principal, scope: Scope
) -> CaseTransition:
    """The transition of a verdict :func:`server.crud.review_case` just gave.

    An escalation also moves the case to the unit above its home unit (when there is one).
    """
    detail: dict[str, Any] = {"review_id": review.id}
    if review.verdict is ReviewVerdict.ESCALATE:
        home = home_unit(session, case)
        node = scope.index.nodes.get(home) if home is not None else None
        if node is not None and node.parent_id is not None:
            case.assigned_unit_id = node.parent_id
            detail |= {"from_unit_id": home, "to_unit_id": node.parent_id}
    return record_transition(
        session,
        case=case,
        action=_VERDICT_ACTIONS[review.verdict],
        from_status=review.status_before,
        to_status=review.status_after,
        actor=review.reviewer or actor.username,
        unit_id=actor.unit_id,
        at=review.created_at,
        note=review.reason,
        detail=detail,
    )


def mark_overdue(session: Session, *, now: datetime) -> list[int]:
    """Mark dispatched cases whose deadline passed (once each); returns their ids."""
    cases = session.scalars(
        select(Case)
        .where(
            Case.status == CaseStatus.DISPATCHED,
            Case.overdue_at.is_(None),
            Case.deadline_at.is_not(None),
            Case.deadline_at <= now,
        )
        .order_by(Case.id)
        .with_for_update(skip_locked=True)
    ).all()
    for case in cases:
        case.overdue_at = now
        record_transition(
            session,
            case=case,
            action=TransitionAction.OVERDUE,
            from_status=case.status,
            to_status=case.status,
            actor=SYSTEM_ACTOR,
            unit_id=None,
            at=now,
            note=None,
            detail={"deadline_at": case.deadline_at.isoformat() if case.deadline_at else None},
        )
    if cases:
        logger.warning("%d dispatched cases passed their deadline", len(cases))
    return [case.id for case in cases]


__all__ = [
    "SYSTEM_ACTOR",
    "InvalidInputError",
    "NotInScopeError",
    "append_record",
    "close",
    "dispatch",
    "dispose",
    "escalate",
    "lock_case",
    "mark_overdue",
    "record_review",
    "record_transition",
    "reopen",
    "require_handles",
    "verify",
]
