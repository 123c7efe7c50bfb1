"""An edge's evidence chain (registered keys, stored records, open issues) and the quarantine."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status

from contracts.ids import ID_PATTERN
from server import chain_store, quarantine
from server.api.deps import ReaderDep, SessionDep, StateDep
from server.core.db import utcnow
from server.schemas import EdgeChainOut, QuarantinedOut, QuarantineList, chain_issue_out

logger = logging.getLogger(__name__)

router = APIRouter(tags=["chain"])

EdgeId = Annotated[str, Path(pattern=ID_PATTERN, description="The edge id.")]


@router.get(
    "/edges/{edge_id}/chain",
    response_model=EdgeChainOut,
    responses={404: {"description": "Nothing is known of this edge's chain."}},
    summary="An edge's evidence chain",
)
def read_edge_chain(session: SessionDep, _principal: ReaderDep, edge_id: EdgeId) -> EdgeChainOut:
    """Counts, head and open issues (gaps, forks, bad signatures, unknown keys)."""
    keys = sorted(chain_store.edge_keys(session, edge_id=edge_id))
    summary = chain_store.edge_summary(session, edge_id=edge_id)
    issues = chain_store.issues_of_edge(session, edge_id=edge_id)
    if not keys and summary.records == 0 and not issues:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"no key or chain record of edge {edge_id}"
        )
    return EdgeChainOut(
        edge_id=edge_id,
        keys=keys,
        records=summary.records,
        verified_records=summary.verified_records,
        head_seq=summary.head_seq,
        issues=[chain_issue_out(issue) for issue in issues],
    )


@router.get("/quarantine", response_model=QuarantineList, summary="Events waiting for their chain")
def read_quarantine(
    session: SessionDep,
    state: StateDep,
    _principal: ReaderDep,
    waiting: Annotated[bool, Query(description="Only events still waiting.")] = True,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> QuarantineList:
    """Event messages no verified chain record of their edge names (yet), newest first.

    Each says why it waits; those older than ``quarantine_max_age_s`` are aged out here
    too (their rows stay, with ``outcome`` ``expired``).
    """
    if quarantine.expire(session, now=utcnow(), max_age_s=state.settings.quarantine_max_age_s):
        session.commit()
    page = quarantine.list_quarantine(session, open_only=waiting, limit=limit, offset=offset)
    return QuarantineList(
        items=[QuarantinedOut.model_validate(row) for row in page.items],
        total=page.total,
        limit=limit,
        offset=offset,
    )
