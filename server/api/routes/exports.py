"""Exports for the hand-off: the filtered case list as CSV, and the case package (zip)."""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from fastapi import APIRouter
from fastapi.responses import FileResponse, StreamingResponse
from sqlalchemy import func, select
from starlette.background import BackgroundTask

from server import crud
from server.api.deps import ReaderDep, ScopeDep, SessionDep, StateDep
from server.api.routes.cases import CaseFilter, CaseFilterDep, CaseId, invalid_query
from server.api.routes.lifecycle import visible_case
from server.chain_verify import export_case
from server.core.db import utcnow
from server.exports.table import csv_chunks
from server.lifecycle.views import case_list_out
from server.schemas import CaseOut
from server.state import ServerState
from server.tables import Case

logger = logging.getLogger(__name__)

router = APIRouter(tags=["exports"])

MAX_CSV_ROWS: Final[int] = 100_000
"""Most cases one CSV export holds; more is refused (narrow the filters)."""
PAGE: Final[int] = 500


def _pages(state: ServerState, filters: CaseFilter, ceiling: int) -> Iterator[list[CaseOut]]:
    """The matching cases page by page, in a session of their own (the response streams
    after the request's session is gone); cases that arrive meanwhile (ids above
    ``ceiling``) are left out so pages do not shift."""
    where = (*filters.where, Case.id <= ceiling)
    with state.session_factory() as session:
        offset = 0
        while True:
            page = crud.list_cases(
                session, query=filters.query, limit=PAGE, offset=offset, where=where
            )
            if not page.items:
                return
            yield case_list_out(session, page.items)
            session.expunge_all()
            offset += PAGE


@router.get(
    "/cases.csv",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {}}, "description": "UTF-8 CSV with a byte-order mark."},
        422: {"description": f"Bad filters, or more than {MAX_CSV_ROWS} cases match."},
    },
    summary="The filtered case list as CSV",
)
def export_cases_csv(
    session: SessionDep, state: StateDep, _principal: ReaderDep, filters: CaseFilterDep
) -> StreamingResponse:
    """Every case ``GET /cases`` would list with the same filters, newest ``first_seen``
    first, as CSV for Excel (UTF-8 with BOM; cells a spreadsheet would run as a formula
    start with an apostrophe; times in Asia/Shanghai)."""
    ceiling = session.scalar(select(func.max(Case.id))) or 0
    total = crud.list_cases(
        session, query=filters.query, limit=1, offset=0, where=filters.where
    ).total
    if total > MAX_CSV_ROWS:
        raise invalid_query(
            "limit",
            f"{total} cases match; one export holds at most {MAX_CSV_ROWS}: narrow the "
            "filters (a shorter since/until range, a unit or a status)",
        )
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        csv_chunks(_pages(state, filters, ceiling)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="civicwatch-cases-{stamp}.csv"'},
    )


_PACKAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/zip": {}}, "description": "The case package (zip)."},
    404: {"description": "No case with this id in your units."},
}


@router.get(
    "/cases/{case_id}/package",
    response_class=FileResponse,
    responses=_PACKAGE_RESPONSES,
    summary="The case package (zip)",
)
def export_case_package(
    session: SessionDep,
    state: StateDep,
    principal: ReaderDep,
    scope: ScopeDep,
    case_id: CaseId,
) -> FileResponse:
    """The self-contained, offline-verifiable package of one case: its signed chain records,
    event messages, evidence files and the edge's public keys, exactly what
    ``civicwatch evidence export`` writes; ``civicwatch evidence verify --package`` checks
    it."""
    visible_case(session, scope=scope, case_id=case_id)
    folder = Path(tempfile.mkdtemp(prefix="civicwatch-package-"))
    try:
        out = export_case(
            session, state.store, case_id=case_id, out=folder / f"case-{case_id}.zip", now=utcnow()
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    logger.info("case %d package downloaded by %s", case_id, principal.username)
    return FileResponse(
        out,
        media_type="application/zip",
        filename=out.name,
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )
