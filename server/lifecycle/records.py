"""The two records every lifecycle move leaves: its transition row and its file-chain link.

:func:`record_transition` writes both (and sets the case's status) in the caller's
transaction; :func:`append_record` adds the next link of a case's file chain (a disposal
adds one of its own). Keyword-only; the caller commits.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.lifecycle.file_chain import GENESIS, link
from server.lifecycle.tables import CaseFileRecord, CaseTransition, TransitionAction
from server.tables import Case, CaseStatus

logger = logging.getLogger(__name__)

SYSTEM_ACTOR = "system"
"""The actor of what the server does by itself (the overdue mark)."""


def append_record(
    session: Session, *, case_id: int, kind: str, at: datetime, actor: str, payload: dict[str, Any]
) -> CaseFileRecord:
    """Add the next link of the case's file chain."""
    last = session.scalar(
        select(CaseFileRecord)
        .where(CaseFileRecord.case_id == case_id)
        .order_by(CaseFileRecord.seq.desc())
        .limit(1)
    )
    record = link(
        case_id=case_id,
        seq=0 if last is None else last.seq + 1,
        prev_hash=GENESIS if last is None else last.record_hash,
        kind=kind,
        at=at,
        actor=actor,
        payload=payload,
    )
    row = CaseFileRecord(
        case_id=case_id,
        seq=record.seq,
        prev_hash=record.prev_hash,
        record_hash=record.record_hash,
        kind=record.kind,
        at=at,
        actor=actor,
        payload=payload,
    )
    session.add(row)
    session.flush()
    return row


def transition_payload(row: CaseTransition) -> dict[str, Any]:
    """What a transition's file record holds (compared again when the chain is verified)."""
    return {
        "transition_id": row.id,
        "action": row.action.value,
        "from_status": row.from_status.value,
        "to_status": row.to_status.value,
        "unit_id": row.unit_id,
        "note": row.note,
        "detail": row.detail,
    }


def record_transition(
    session: Session,
    *,
    case: Case,
    action: TransitionAction,
    from_status: CaseStatus,
    to_status: CaseStatus,
    actor: str,
    unit_id: str | None,
    at: datetime,
    note: str | None,
    detail: dict[str, Any],
) -> CaseTransition:
    """Write a transition row and its file record, and set the case's status."""
    row = CaseTransition(
        case_id=case.id,
        action=action,
        from_status=from_status,
        to_status=to_status,
        actor=actor,
        unit_id=unit_id,
        at=at,
        note=note or None,
        detail=detail,
    )
    session.add(row)
    session.flush()
    append_record(
        session,
        case_id=case.id,
        kind=action.value,
        at=at,
        actor=actor,
        payload=transition_payload(row),
    )
    case.status = to_status
    case.updated_at = at
    session.flush()
    logger.info("case %d %s by %s: %s -> %s", case.id, action.value, actor, from_status, to_status)
    return row
