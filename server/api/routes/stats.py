"""Statistics of the cases in the requester's units (``GET /api/v1/stats``)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Final

from fastapi import APIRouter, HTTPException, Query, status

from contracts.ids import ID_PATTERN
from server.api.deps import ReaderDep, ScopeDep, SessionDep
from server.api.routes.cases import time_range
from server.org.scope import Scope, scope_for
from server.stats.compute import compute_stats
from server.stats.facts import read_facts
from server.stats.schemas import Stats

logger = logging.getLogger(__name__)

router = APIRouter(tags=["statistics"])

TIME_ZONE: Final[str] = "Asia/Shanghai"
MAX_CASES: Final[int] = 200_000
"""Most cases one request reads (the newest count; ``truncated`` says so)."""


@router.get(
    "/stats",
    response_model=Stats,
    responses={404: {"description": "No such unit in your units."}},
    summary="Statistics",
)
def read_stats(
    session: SessionDep,
    _principal: ReaderDep,
    scope: ScopeDep,
    unit_id: Annotated[
        str | None,
        Query(pattern=ID_PATTERN, description="Count this unit's subtree (default: yours)."),
    ] = None,
    since: Annotated[
        datetime | None, Query(description="first_seen at or after (ISO 8601 with zone).")
    ] = None,
    until: Annotated[
        datetime | None, Query(description="first_seen before (ISO 8601 with zone).")
    ] = None,
) -> Stats:
    """Counts by unit, violation type, status and day (Asia/Shanghai); confirm rate per camera
    and per model version; median time to close; overdue cases. Only cases in the requester's
    units count."""
    since, until = time_range(since, until)
    scopes: tuple[Scope, ...] = (scope,)
    if unit_id is not None:
        if not scope.covers(unit_id) or unit_id not in scope.index.nodes:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"unit {unit_id} not found")
        scopes = (scope, scope_for(session, unit_id=unit_id))
    page = read_facts(session, scopes=scopes, since=since, until=until, max_rows=MAX_CASES)
    if page.truncated:
        logger.warning("stats: more than %d cases match; the newest were counted", MAX_CASES)
    return compute_stats(
        page.items,
        index=scope.index,
        root=unit_id if unit_id is not None else scope.unit_id,
        since=since,
        until=until,
        time_zone=TIME_ZONE,
        truncated=page.truncated,
    )
