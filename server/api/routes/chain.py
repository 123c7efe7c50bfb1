"""An edge's evidence chain: registered keys, stored records and open issues."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status

from contracts.ids import ID_PATTERN
from server import chain_store
from server.api.deps import ReaderDep, SessionDep
from server.schemas import EdgeChainOut, chain_issue_out

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/edges", tags=["chain"])

EdgeId = Annotated[str, Path(pattern=ID_PATTERN, description="The edge id.")]


@router.get(
    "/{edge_id}/chain",
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
