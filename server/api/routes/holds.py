"""Legal holds: an admin keeps a case (and its evidence) from retention; every change audited."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from pydantic import BaseModel, ConfigDict, Field

from server import retention
from server.api.deps import AdminDep, ReaderDep, SessionDep
from server.core.db import utcnow
from server.tables import Case, HoldAction

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/cases", tags=["legal hold"])

CaseId = Annotated[int, Path(ge=1, le=2**62, description="The case's id.")]


class HoldIn(BaseModel):
    """Set (``hold: true``) or clear a legal hold, saying why."""

    model_config = ConfigDict(extra="forbid")

    hold: bool
    reason: str = Field(min_length=3, max_length=2000, description="Recorded in the audit log.")


class HoldLogOut(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)

    action: HoldAction
    actor: str
    reason: str
    created_at: datetime


class HoldOut(BaseModel):
    """A case's legal hold and its history."""

    case_id: int
    on_hold: bool
    held_since: datetime | None
    held_by: str | None
    reason: str | None
    log: list[HoldLogOut]


def _out(session: SessionDep, case: Case) -> HoldOut:
    return HoldOut(
        case_id=case.id,
        on_hold=case.legal_hold_at is not None,
        held_since=case.legal_hold_at,
        held_by=case.legal_hold_by,
        reason=case.legal_hold_reason,
        log=[
            HoldLogOut.model_validate(row) for row in retention.hold_log(session, case_id=case.id)
        ],
    )


@router.get(
    "/{case_id}/legal-hold",
    response_model=HoldOut,
    responses={404: {"description": "No such case."}},
    summary="A case's legal hold",
)
def read_hold(case_id: CaseId, session: SessionDep, _principal: ReaderDep) -> HoldOut:
    case = session.get(Case, case_id)
    if case is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"case {case_id} not found")
    return _out(session, case)


@router.post(
    "/{case_id}/legal-hold",
    response_model=HoldOut,
    responses={
        404: {"description": "No such case."},
        409: {"description": "The case is already in the asked state."},
    },
    summary="Set or clear a legal hold (admin)",
)
def change_hold(case_id: CaseId, body: HoldIn, session: SessionDep, principal: AdminDep) -> HoldOut:
    """A case on hold is never deleted by retention, nor is the evidence it refers to."""
    if session.get(Case, case_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"case {case_id} not found")
    try:
        case = retention.set_hold(
            session,
            case_id=case_id,
            actor=principal.username,
            reason=body.reason,
            hold=body.hold,
            now=utcnow(),
        )
    except retention.HoldError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    session.commit()
    return _out(session, case)
