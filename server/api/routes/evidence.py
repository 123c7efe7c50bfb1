"""Evidence bytes by content hash. Only a validated hash ever reaches the store.

The bytes come from the configured store (directory or S3 bucket), checked against their
hash on the way: bytes that no longer match are never served.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from fastapi.responses import Response

from server import crud
from server.api.deps import ReaderDep, ScopeDep, SessionDep, StateDep
from server.evidence_store import (
    SHA256_PATTERN,
    EvidenceBackendError,
    EvidenceCorruptError,
    EvidenceMissingError,
)
from server.lifecycle.reading import photo_cases
from server.org.scope import Scope, camera_unit
from server.tables import Case

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/evidence", tags=["evidence"])


@router.get(
    "/{sha256}",
    response_class=Response,
    responses={
        200: {
            "content": {"image/jpeg": {}, "image/png": {}, "application/json": {}},
            "description": "The stored bytes; their sha256 equals the path.",
        },
        404: {"description": "No evidence or disposal photo with this hash in your units."},
        500: {"description": "The stored bytes fail their hash check (see the log)."},
        503: {"description": "The evidence store cannot be reached (see the log)."},
    },
    summary="Evidence bytes",
)
def read_evidence(
    session: SessionDep,
    state: StateDep,
    _principal: ReaderDep,
    scope: ScopeDep,
    sha256: Annotated[str, Path(pattern=SHA256_PATTERN, description="Lowercase hex sha256.")],
) -> Response:
    """The evidence bytes (or a disposal photo's) with their content type.

    An account with a unit gets only what a case in its units refers to (404 otherwise).

    Never stored by a browser or proxy cache (``private, no-store``): a logged-out browser
    must not show evidence from its cache, and a shared machine must not keep it.
    """
    row = crud.get_evidence(session, sha256=sha256)
    photos = photo_cases(session, sha256=sha256) if row is None else []
    if row is None and not photos:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"evidence {sha256} not found")
    owners = [case_id for case_id, _ in photos]
    if row is not None and scope.units is not None:
        owners = [ref.case_id for ref in crud.evidence_references(session, sha256=sha256)]
    if scope.units is not None and not _any_visible(session, scope, owners):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"evidence {sha256} not found")
    content_type = row.content_type if row is not None else photos[0][1]
    try:
        data = state.store.read(sha256)
    except EvidenceMissingError:
        where = state.store.where(sha256)
        logger.error("evidence %s is recorded but its file %s is missing", sha256, where)
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"evidence {sha256} bytes are missing"
        ) from None
    except EvidenceCorruptError as exc:
        logger.error("evidence %s not served: %s", sha256, exc)
        raise HTTPException(
            status.HTTP_500_INTERNAL_SERVER_ERROR,
            detail=f"evidence {sha256} bytes fail their hash check",
        ) from None
    except EvidenceBackendError as exc:
        logger.error("evidence %s not served: %s", sha256, exc)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail="evidence store unavailable"
        ) from None
    return Response(
        data,
        media_type=content_type,
        headers={
            "Cache-Control": "private, no-store",
            "ETag": f'"{sha256}"',
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; img-src 'self'; sandbox",
        },
    )


def _any_visible(session: SessionDep, scope: Scope, case_ids: list[int]) -> bool:
    for case_id in case_ids:
        case = session.get(Case, case_id)
        if case is not None and scope.sees(camera_unit=camera_unit(session, case), case=case):
            return True
    return False
