"""Notices to the shop a cross-door case names: record one, list them."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, status

from server.api.deps import ReaderDep, ScopeDep, SessionDep, require
from server.api.routes.cases import CaseId
from server.api.routes.lifecycle import visible_case
from server.auth import Principal
from server.core.db import utcnow
from server.lifecycle.service import lock_case
from server.notices import service
from server.notices.schemas import NoticeIn, NoticeList, NoticeOut
from server.tables import UserRole

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/cases", tags=["shop notices"])

NoticeWriterDep = Annotated[
    Principal, Depends(require(UserRole.REVIEWER, UserRole.DISPATCHER, UserRole.TEAM))
]
"""Reviewers, dispatchers, field teams and admins record notices."""

_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "No case with this id in your units."},
}


@router.get(
    "/{case_id}/notices",
    response_model=NoticeList,
    responses=_RESPONSES,
    summary="Notices to the case's shop",
)
def read_notices(
    session: SessionDep, _principal: ReaderDep, scope: ScopeDep, case_id: CaseId
) -> NoticeList:
    """The shop the case names (null unless cross-door) and the notices given, oldest first."""
    case = visible_case(session, scope=scope, case_id=case_id)
    shop = service.case_shop(session, case=case)
    return NoticeList(
        shop_id=shop.id if shop is not None else None,
        shop_name=shop.name if shop is not None else None,
        items=[
            NoticeOut.model_validate(row) for row in service.list_notices(session, case_id=case.id)
        ],
    )


@router.post(
    "/{case_id}/notices",
    response_model=NoticeOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        **_RESPONSES,
        409: {"description": "Not a cross-door case, or the case names no shop."},
    },
    summary="Record a notice to the shop",
)
def create_notice(
    session: SessionDep,
    principal: NoticeWriterDep,
    scope: ScopeDep,
    case_id: CaseId,
    body: NoticeIn,
) -> NoticeOut:
    """Record that the shop a cross-door case names was told: by SMS, phone, a paper notice
    or in person, when, and what. The row is kept with who recorded it and when."""
    lock_case(session, case_id=case_id)  # one file-chain writer at a time
    case = visible_case(session, scope=scope, case_id=case_id)
    try:
        notice = service.record_notice(
            session,
            case=case,
            channel=body.channel,
            text=body.text,
            sent_at=body.sent_at,
            recorded_by=principal.username,
            now=utcnow(),
        )
    except service.NoticeConflictError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    except service.NoticeInputError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[{"loc": ["body", "sent_at"], "msg": str(exc), "type": "value_error"}],
        ) from exc
    session.commit()
    return NoticeOut.model_validate(notice)
