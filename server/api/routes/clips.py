"""Event clips from the edges: MP4 uploaded in chunks over HTTP, stored as evidence of a case.

An edge cuts a clip around a case start (its own packets, remuxed to MP4), fixes its sha256
in its signed chain (a ``clip`` record) and uploads it here as its edge account, in chunks
that each fit the server's request body limit::

    PUT /api/v1/evidence/clips/{sha256}?event_id=...&offset=0&total=N&captured_at=...
    (body: bytes offset .. offset+len of the file)

The server appends each chunk to a partial file; a chunk whose ``offset`` is not the size
received so far gets 409 with ``received``, from where the edge resumes (a broken upload
never starts over). When all ``total`` bytes are in, their sha256 must equal the path's and
they must be an MP4; the file then goes to the evidence store and the case gets an
evidence row of kind ``clip`` (``video/mp4``). Uploading a clip the server already has
answers at once (idempotent by sha256). MQTT is not used for clips: a 5-20 MB message would
hold up the edge's event queue behind it and the broker's per-client queue in memory.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from pathlib import Path as FsPath
from typing import Annotated

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, status
from pydantic import AwareDatetime, BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from contracts.limits import MAX_EVIDENCE_BYTES
from server import crud
from server.api.deps import SessionDep, StateDep, require
from server.auth import Principal
from server.core.db import utcnow
from server.evidence_store import SHA256_PATTERN, EvidenceBackendError
from server.state import ServerState
from server.tables import CaseEvidence, UserRole

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/evidence/clips", tags=["evidence"])

CLIP_KIND = "clip"
CLIP_CONTENT_TYPE = "video/mp4"
EdgeDep = Annotated[Principal, Depends(require(UserRole.EDGE))]
"""An edge's account (or an admin)."""


class ClipUploadOut(BaseModel):
    """How much of the clip the server holds."""

    sha256: str
    received: int
    complete: bool


def uploads_dir(state: ServerState) -> FsPath:
    """Where partial uploads wait: ``clip-uploads`` beside the evidence directory."""
    return state.settings.evidence_dir.parent / "clip-uploads"


def _is_mp4(data: bytes) -> bool:
    return len(data) >= 12 and data[4:8] == b"ftyp"


@router.put(
    "/{sha256}",
    response_model=ClipUploadOut,
    responses={
        200: {"description": "Chunk stored (or the whole clip is already here)."},
        404: {"description": "No case with this event id from the uploading edge (yet)."},
        409: {"description": "The offset is not the size received so far; see 'received'."},
        422: {"description": "The bytes do not hash to the path's sha256, or are no MP4."},
    },
    summary="Upload an event clip (chunked, resumable)",
)
def upload_clip(
    session: SessionDep,
    state: StateDep,
    principal: EdgeDep,
    sha256: Annotated[str, Path(pattern=SHA256_PATTERN, description="sha256 of the whole MP4.")],
    event_id: Annotated[str, Query(pattern=r"^[0-9a-f]{32}$", description="The case's event.")],
    offset: Annotated[int, Query(ge=0, le=MAX_EVIDENCE_BYTES)],
    total: Annotated[int, Query(gt=0, le=MAX_EVIDENCE_BYTES, description="The file's size.")],
    captured_at: Annotated[AwareDatetime, Query(description="Capture time of its first frame.")],
    chunk: Annotated[bytes, Body(media_type="application/octet-stream")],
) -> ClipUploadOut:
    """Store one chunk of an event clip; the last one makes it evidence of the case."""
    case = crud.get_case_by_event_id(session, event_id=event_id)
    if case is None or (principal.role is UserRole.EDGE and case.edge_id != principal.username):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"no case with event {event_id} from edge {principal.username} (yet)",
        )
    if crud.get_evidence(session, sha256=sha256) is not None:
        _link(session, case_id=case.id, sha256=sha256, size=total, captured_at=captured_at)
        session.commit()
        return ClipUploadOut(sha256=sha256, received=total, complete=True)
    directory = uploads_dir(state)
    directory.mkdir(parents=True, exist_ok=True)
    partial = directory / f"{sha256}.part"
    received = partial.stat().st_size if partial.exists() else 0
    if offset != received:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail={"message": f"expected offset {received}", "received": received},
        )
    if offset + len(chunk) > total:
        partial.unlink(missing_ok=True)
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"{offset + len(chunk)} bytes is more than the total of {total}",
        )
    with partial.open("ab") as handle:
        handle.write(chunk)
    received = offset + len(chunk)
    if received < total:
        return ClipUploadOut(sha256=sha256, received=received, complete=False)
    data = partial.read_bytes()
    partial.unlink(missing_ok=True)
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"the clip hashes to {actual}, not {sha256}; send it again from offset 0",
        )
    if not _is_mp4(data):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="the clip is not an MP4")
    try:
        state.store.write(sha256, data)
    except EvidenceBackendError as exc:
        logger.error("clip %s of event %s not stored: %s", sha256, event_id, exc)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail="the evidence store cannot be reached"
        ) from None
    crud.add_evidence(
        session,
        sha256=sha256,
        content_type=CLIP_CONTENT_TYPE,
        byte_size=len(data),
        edge_id=case.edge_id,
        received_at=utcnow(),
    )
    _link(session, case_id=case.id, sha256=sha256, size=len(data), captured_at=captured_at)
    session.commit()
    logger.info(
        "clip %s (%d bytes) of case %d (event %s) stored", sha256[:12], len(data), case.id, event_id
    )
    return ClipUploadOut(sha256=sha256, received=len(data), complete=True)


def _link(session: Session, *, case_id: int, sha256: str, size: int, captured_at: datetime) -> None:
    """The case's evidence row for the clip (once)."""
    exists = session.scalar(
        select(CaseEvidence.id).where(
            CaseEvidence.case_id == case_id, CaseEvidence.sha256 == sha256
        )
    )
    if exists is None:
        session.add(
            CaseEvidence(
                case_id=case_id,
                sha256=sha256,
                kind=CLIP_KIND,
                content_type=CLIP_CONTENT_TYPE,
                byte_size=size,
                captured_at=captured_at,
            )
        )
