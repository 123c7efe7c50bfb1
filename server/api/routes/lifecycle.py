"""The case lifecycle over HTTP: dispatch, disposal, verification, close, reopen, escalate.

Every route answers 404 for a case outside the requester's units (no existence leak),
403 for a role that may not act or a case handled above the requester's unit, 409 for a
move the case's status does not allow, and 422 for bad input. Each successful move writes
its transition row and file-chain record in the same transaction and returns the case.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, NoReturn

from fastapi import APIRouter, File, Form, HTTPException, Path, UploadFile, status

from server import crud
from server.api.deps import (
    DispatcherDep,
    EscalatorDep,
    ReaderDep,
    ScopeDep,
    SessionDep,
    StateDep,
    TeamDep,
)
from server.core.db import utcnow
from server.lifecycle import service
from server.lifecycle.photos import PhotoError, PhotoInfo, inspect_photo
from server.lifecycle.reading import transitions, verify_case_file
from server.lifecycle.schemas import (
    CloseIn,
    DispatchIn,
    EscalateIn,
    FileChainOut,
    FileRecordOut,
    ReopenIn,
    TransitionOut,
    VerifyIn,
)
from server.lifecycle.transitions import TransitionConflictError
from server.lifecycle.views import case_detail_out
from server.org.scope import Scope, camera_unit
from server.schemas import CaseDetail
from server.tables import Case, CaseStatus

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/cases", tags=["lifecycle"])

CaseId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The case id.")]

_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "The role may not do this, or the case is handled above your unit."},
    404: {"description": "No case with this id in your units."},
    409: {"description": "The case's status does not allow this move (the message says why)."},
    422: {"description": "Bad input: a team not under the case's unit, a past deadline, …"},
}


def visible_case(session: SessionDep, *, scope: Scope, case_id: int) -> Case:
    """The case if the requester's units reach it; 404 otherwise (whether or not it exists)."""
    case = crud.get_case(session, case_id=case_id)
    if case is None or not scope.sees(camera_unit=camera_unit(session, case), case=case):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"case {case_id} not found")
    return case


def handles_or_403(session: SessionDep, *, case: Case, scope: Scope) -> None:
    """Refuse (403) an action on a case handled by a unit above the requester's."""
    try:
        service.require_handles(session, case=case, scope=scope)
    except service.NotInScopeError as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=str(exc)) from exc


def _locked(session: SessionDep, *, scope: Scope, case_id: int) -> Case:
    service.lock_case(session, case_id=case_id)
    return visible_case(session, scope=scope, case_id=case_id)


def _refuse(exc: Exception, field: str) -> NoReturn:
    if isinstance(exc, TransitionConflictError):
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    if isinstance(exc, service.NotInScopeError):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=str(exc)) from exc
    raise HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=[{"loc": ["body", field], "msg": str(exc), "type": "value_error"}],
    ) from exc


_ACTION_ERRORS = (TransitionConflictError, service.NotInScopeError, service.InvalidInputError)


@router.post(
    "/{case_id}/dispatch",
    response_model=CaseDetail,
    responses=_RESPONSES,
    summary="Dispatch a confirmed case to a team",
)
def dispatch_case(
    session: SessionDep,
    state: StateDep,
    principal: DispatcherDep,
    scope: ScopeDep,
    case_id: CaseId,
    body: DispatchIn,
) -> CaseDetail:
    """Send a confirmed (立案) case to a team under its unit with a deadline (default by
    violation type: settings ``lifecycle.deadline_hours``)."""
    case = _locked(session, scope=scope, case_id=case_id)
    try:
        service.dispatch(
            session,
            case=case,
            actor=principal,
            scope=scope,
            team_unit_id=body.team_unit_id,
            deadline_at=body.deadline_at,
            note=body.note,
            now=utcnow(),
            settings=state.settings.lifecycle,
        )
    except _ACTION_ERRORS as exc:
        _refuse(exc, "team_unit_id")
    session.commit()
    return case_detail_out(session, case)


def _read_photo(upload: UploadFile, *, max_bytes: int, max_pixels: int) -> tuple[PhotoInfo, bytes]:
    data = upload.file.read(max_bytes + 1)
    try:
        return inspect_photo(data, max_bytes=max_bytes, max_pixels=max_pixels), data
    except PhotoError as exc:
        name = (upload.filename or "photo")[:80]
        message = f"{name}: {exc}"
        if exc.status == status.HTTP_422_UNPROCESSABLE_CONTENT:
            raise HTTPException(
                exc.status,
                detail=[{"loc": ["body", "photos"], "msg": message, "type": "value_error"}],
            ) from None
        raise HTTPException(exc.status, detail=message) from None


@router.post(
    "/{case_id}/disposals",
    response_model=CaseDetail,
    status_code=status.HTTP_201_CREATED,
    responses={
        **_RESPONSES,
        413: {"description": "A photo is larger than lifecycle.max_photo_bytes."},
        415: {"description": "A photo is neither JPEG nor PNG."},
    },
    summary="Report a disposal (photos and a note)",
)
def dispose_case(
    session: SessionDep,
    state: StateDep,
    principal: TeamDep,
    scope: ScopeDep,
    case_id: CaseId,
    photos: Annotated[list[UploadFile], File(description="One or more JPEG or PNG photos.")],
    note: Annotated[str, Form(min_length=1, max_length=2000, description="What was done.")],
) -> CaseDetail:
    """The team the case is dispatched to reports what it did; the photos are checked (a
    complete JPEG or PNG, size and pixel limits), stored by sha256 and listed in the case's
    file chain."""
    limits = state.settings.lifecycle
    case = _locked(session, scope=scope, case_id=case_id)
    if len(photos) > limits.max_photos:
        _refuse(
            service.InvalidInputError(f"at most {limits.max_photos} photos per disposal"),
            "photos",
        )
    checked = [
        _read_photo(upload, max_bytes=limits.max_photo_bytes, max_pixels=limits.max_photo_pixels)
        for upload in photos
    ]
    try:
        service.dispose(
            session,
            case=case,
            actor=principal,
            scope=scope,
            note=note,
            photos=checked,
            store=state.store,
            now=utcnow(),
        )
    except _ACTION_ERRORS as exc:
        _refuse(exc, "note")
    session.commit()
    return case_detail_out(session, case)


@router.post(
    "/{case_id}/verify",
    response_model=CaseDetail,
    responses=_RESPONSES,
    summary="Accept a disposal or send it back",
)
def verify_case(
    session: SessionDep,
    principal: DispatcherDep,
    scope: ScopeDep,
    case_id: CaseId,
    body: VerifyIn,
) -> CaseDetail:
    """``accepted`` true: the case is verified; false: back to the team (a note says why)."""
    case = _locked(session, scope=scope, case_id=case_id)
    try:
        service.verify(
            session,
            case=case,
            actor=principal,
            scope=scope,
            accepted=body.accepted,
            note=body.note,
            now=utcnow(),
        )
    except _ACTION_ERRORS as exc:
        _refuse(exc, "note")
    session.commit()
    return case_detail_out(session, case)


@router.post(
    "/{case_id}/close", response_model=CaseDetail, responses=_RESPONSES, summary="Close a case"
)
def close_case(
    session: SessionDep, principal: DispatcherDep, scope: ScopeDep, case_id: CaseId, body: CloseIn
) -> CaseDetail:
    """Close a verified case."""
    case = _locked(session, scope=scope, case_id=case_id)
    try:
        service.close(
            session, case=case, actor=principal, scope=scope, note=body.note, now=utcnow()
        )
    except _ACTION_ERRORS as exc:
        _refuse(exc, "note")
    session.commit()
    return case_detail_out(session, case)


@router.post(
    "/{case_id}/reopen",
    response_model=CaseDetail,
    responses=_RESPONSES,
    summary="Reopen a closed or rejected case",
)
def reopen_case(
    session: SessionDep,
    state: StateDep,
    principal: DispatcherDep,
    scope: ScopeDep,
    case_id: CaseId,
    body: ReopenIn,
) -> CaseDetail:
    """Back to review (``to`` candidate) or to its last team with a new deadline."""
    case = _locked(session, scope=scope, case_id=case_id)
    try:
        service.reopen(
            session,
            case=case,
            actor=principal,
            scope=scope,
            reason=body.reason,
            to=CaseStatus(body.to),
            deadline_at=body.deadline_at,
            now=utcnow(),
            settings=state.settings.lifecycle,
        )
    except _ACTION_ERRORS as exc:
        _refuse(exc, "deadline_at")
    session.commit()
    return case_detail_out(session, case)


@router.post(
    "/{case_id}/escalate",
    response_model=CaseDetail,
    responses=_RESPONSES,
    summary="Move a case to the unit above",
)
def escalate_case(
    session: SessionDep,
    principal: EscalatorDep,
    scope: ScopeDep,
    case_id: CaseId,
    body: EscalateIn,
) -> CaseDetail:
    """The unit above the one handling the case takes it over (candidate cases become
    escalated)."""
    case = _locked(session, scope=scope, case_id=case_id)
    try:
        service.escalate(
            session, case=case, actor=principal, scope=scope, note=body.note, now=utcnow()
        )
    except _ACTION_ERRORS as exc:
        _refuse(exc, "note")
    session.commit()
    return case_detail_out(session, case)


@router.get(
    "/{case_id}/transitions",
    response_model=list[TransitionOut],
    responses={404: _RESPONSES[404]},
    summary="A case's transitions",
)
def read_transitions(
    session: SessionDep, _principal: ReaderDep, scope: ScopeDep, case_id: CaseId
) -> list[TransitionOut]:
    """Every transition of the case, oldest first."""
    case = visible_case(session, scope=scope, case_id=case_id)
    return [TransitionOut.model_validate(row) for row in transitions(session, case_id=case.id)]


@router.get(
    "/{case_id}/file-chain",
    response_model=FileChainOut,
    responses={404: _RESPONSES[404]},
    summary="A case's file chain, verified",
)
def read_file_chain(
    session: SessionDep, state: StateDep, _principal: ReaderDep, scope: ScopeDep, case_id: CaseId
) -> FileChainOut:
    """The hash chain over the case's transitions and disposals, with its verification:
    every hash recomputed, every link followed, every photo re-read against its sha256 and
    every transition row compared with its record."""
    case = visible_case(session, scope=scope, case_id=case_id)
    rows, verdict = verify_case_file(session, case_id=case.id, store=state.store)
    if not verdict.ok:
        logger.error("case %d file chain fails: %s", case.id, "; ".join(verdict.problems))
    return FileChainOut(
        case_id=case.id,
        ok=verdict.ok,
        head=verdict.head,
        problems=verdict.problems,
        records=[FileRecordOut.model_validate(row) for row in rows],
    )
