"""Evidence bytes by content hash. Only a validated hash ever reaches the file system."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from fastapi.responses import FileResponse

from server import crud
from server.api.deps import ReaderDep, SessionDep, StateDep
from server.evidence_store import SHA256_PATTERN

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/evidence", tags=["evidence"])


@router.get(
    "/{sha256}",
    response_class=FileResponse,
    responses={
        200: {
            "content": {"image/jpeg": {}, "image/png": {}, "application/json": {}},
            "description": "The stored bytes; their sha256 equals the path.",
        },
        404: {"description": "No evidence with this hash has arrived."},
    },
    summary="Evidence bytes",
)
def read_evidence(
    session: SessionDep,
    state: StateDep,
    _principal: ReaderDep,
    sha256: Annotated[str, Path(pattern=SHA256_PATTERN, description="Lowercase hex sha256.")],
) -> FileResponse:
    """The evidence bytes with their content type.

    Never stored by a browser or proxy cache (``private, no-store``): a logged-out browser
    must not show evidence from its cache, and a shared machine must not keep it.
    """
    row = crud.get_evidence(session, sha256=sha256)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"evidence {sha256} not found")
    path = state.store.path_for(sha256)
    if not path.is_file():
        logger.error("evidence %s is recorded but its file %s is missing", sha256, path)
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"evidence {sha256} bytes are missing"
        )
    return FileResponse(
        path,
        media_type=row.content_type,
        headers={
            "Cache-Control": "private, no-store",
            "ETag": f'"{sha256}"',
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; img-src 'self'; sandbox",
        },
    )
