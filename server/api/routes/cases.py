"""Cases: list with filters, detail, review verdicts."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from sqlalchemy import ColumnElement

from contracts.events import ViolationType
from contracts.ids import ID_PATTERN
from server import chain_store, crud
from server.api.deps import ReaderDep, ReviewerDep, ScopeDep, SessionDep
from server.api.routes.lifecycle import handles_or_403, visible_case
from server.core.db import utcnow
from server.lifecycle.service import record_review
from server.lifecycle.views import case_detail_out, case_list_out
from server.org.scope import scope_for, visible_condition
from server.review_labels.service import LabelError, record_reason
from server.schemas import CaseDetail, CaseList, ReviewIn
from server.tables import Case, CaseStatus

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/cases", tags=["cases"])

CaseId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The case id.")]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No case with this id."}}


def invalid_query(name: str, message: str) -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors (what the OpenAPI spec declares)."""
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=[{"loc": ["query", name], "msg": message, "type": "value_error"}],
    )


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise invalid_query(
            name, f"{name} must carry a time zone, e.g. 2024-05-01T08:00:00Z or +08:00"
        )
    return value


def time_range(
    since: datetime | None, until: datetime | None
) -> tuple[datetime | None, datetime | None]:
    """``since`` and ``until`` when both carry a zone and ``since`` comes first; 422 otherwise."""
    since = _aware(since, "since")
    until = _aware(until, "until")
    if since is not None and until is not None and since >= until:
        raise invalid_query("until", "since must be earlier than until")
    return since, until


@dataclass(frozen=True, slots=True)
class CaseFilter:
    """The case list's filters, parsed and checked once (the list and its CSV export)."""

    query: crud.CaseQuery
    where: tuple[ColumnElement[bool], ...]
    """The requester's units, the unit filter and the overdue filter, as SQL conditions."""


def case_filter(
    session: SessionDep,
    scope: ScopeDep,
    camera_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    zone_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    violation_type: ViolationType | None = None,
    case_status: Annotated[CaseStatus | None, Query(alias="status")] = None,
    since: Annotated[
        datetime | None, Query(description="first_seen at or after (ISO 8601 with zone).")
    ] = None,
    until: Annotated[
        datetime | None, Query(description="first_seen before (ISO 8601 with zone).")
    ] = None,
    unit_id: Annotated[
        str | None,
        Query(
            pattern=ID_PATTERN,
            description="Cases of this unit's subtree (camera, assigned or team unit).",
        ),
    ] = None,
    overdue: Annotated[
        bool | None, Query(description="true: only cases whose deadline passed; false: none.")
    ] = None,
) -> CaseFilter:
    """The query parameters of ``GET /cases`` (and ``GET /cases.csv``) as a :class:`CaseFilter`."""
    since, until = time_range(since, until)
    query = crud.CaseQuery(
        camera_id=camera_id,
        zone_id=zone_id,
        violation_type=violation_type.value if violation_type is not None else None,
        status=case_status,
        since=since,
        until=until,
    )
    where = [visible_condition(scope)]
    if unit_id is not None:
        where.append(visible_condition(scope_for(session, unit_id=unit_id)))
    if overdue is not None:
        where.append(Case.overdue_at.is_not(None) if overdue else Case.overdue_at.is_(None))
    return CaseFilter(query=query, where=tuple(where))


CaseFilterDep = Annotated[CaseFilter, Depends(case_filter)]
"""The case list's filters (shared by the list and the exports)."""


@router.get("", response_model=CaseList, summary="List cases, newest first")
def read_cases(
    session: SessionDep,
    _principal: ReaderDep,
    filters: CaseFilterDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> CaseList:
    """Cases in the requester's units matching every given filter, newest ``first_seen`` first."""
    page = crud.list_cases(
        session, query=filters.query, limit=limit, offset=offset, where=filters.where
    )
    return CaseList(
        items=case_list_out(session, page.items),
        total=page.total,
        limit=limit,
        offset=offset,
    )


@router.get("/{case_id}", response_model=CaseDetail, responses=_NOT_FOUND, summary="One case")
def read_case(
    session: SessionDep, _principal: ReaderDep, scope: ScopeDep, case_id: CaseId
) -> CaseDetail:
    """The case with its messages, evidence, verdicts, unit, transitions and disposals."""
    return case_detail_out(session, visible_case(session, scope=scope, case_id=case_id))


@router.post(
    "/{case_id}/review",
    response_model=CaseDetail,
    responses={
        **_NOT_FOUND,
        409: {
            "description": (
                "The verdict is not allowed from the case's status, or a confirmation of a "
                "case whose chain is not verified lacks override_chain."
            )
        },
    },
    summary="Give a verdict",
)
def review_case(
    session: SessionDep, principal: ReviewerDep, scope: ScopeDep, case_id: CaseId, body: ReviewIn
) -> CaseDetail:
    """Confirm, reject (a reason is required) or escalate a case.

    Candidate cases take any verdict; escalated cases can be confirmed or rejected;
    confirmed and rejected are final. Confirming a case whose evidence chain is not
    ``verified`` needs ``override_chain`` and a reason; the verdict records the chain
    status and the override. Each verdict writes a lifecycle transition; an escalation moves
    the case to the unit above the one handling it. A case outside the reviewer's units is
    404; one handled above them (escalated) is 403.
    """
    case = visible_case(session, scope=scope, case_id=case_id)
    handles_or_403(session, case=case, scope=scope)
    status_before = case.status
    chain_status = chain_store.case_chain(session, case=case).status
    # With logins the verdict is signed by the account; without, by the name given.
    reviewer = principal.username if principal.authenticated else body.reviewer
    reason_text = body.reason or (body.structured.summary() if body.structured else None)
    try:
        crud.review_case(
            session,
            case=case,
            verdict=body.verdict,
            reason=reason_text,
            reviewer=reviewer,
            now=utcnow(),
            chain_status=chain_status,
            chain_override=body.override_chain,
        )
    except crud.ChainNotVerifiedError as exc:
        logger.warning("confirmation of case %d refused: chain %s", case_id, chain_status)
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    except crud.ReviewConflictError as exc:
        detail = f"case {case_id} is {status_before.value}; cannot {body.verdict.value}"
        raise HTTPException(status.HTTP_409_CONFLICT, detail=detail) from exc
    if body.structured is not None:
        try:
            record_reason(
                session, case=case, review=case.reviews[-1], reason=body.structured, now=utcnow()
            )
        except LabelError as exc:  # nothing is committed: the verdict is not given either
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                detail=[{"loc": ["body", "structured"], "msg": str(exc), "type": "value_error"}],
            ) from exc
    record_review(session, case=case, review=case.reviews[-1], actor=principal, scope=scope)
    session.commit()
    logger.info(
        "case %d %s by %s (now %s)",
        case.id,
        body.verdict.value,
        reviewer or "-",
        case.status.value,
    )
    return case_detail_out(session, case)
