"""Model rollout over HTTP: model files by sha256 (Range, for edges), assignments (read)."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import case, func, select

from contracts.ids import ID_PATTERN
from server.api.deps import ReaderDep, SessionDep, StateDep, require
from server.auth import Principal
from server.core.db import utcnow
from server.evidence_store import EvidenceCorruptError, EvidenceMissingError
from server.rollout.tables import ModelAssignmentRow, ModelFileRow
from server.tables import Case, UserRole

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/models", tags=["models"])

EdgeDep = Annotated[Principal, Depends(require(UserRole.EDGE))]
"""Edge accounts (and admins): fetch model files."""

Sha = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="The file's sha256.")]
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def byte_range(header: str | None, total: int) -> tuple[int, int] | None:
    """``(first, last)`` of a single ``Range: bytes=...`` header; ``None``: the whole file.

    Raises:
        ValueError: Not one satisfiable byte range.
    """
    if header is None:
        return None
    match = _RANGE.match(header.strip())
    if match is None or (not match[1] and not match[2]):
        raise ValueError(f"unsupported range {header!r} (one bytes=FIRST-LAST range)")
    if not match[1]:  # the last N bytes
        n = int(match[2])
        if n == 0:
            raise ValueError("empty suffix range")
        return max(total - n, 0), total - 1
    first = int(match[1])
    last = min(int(match[2]), total - 1) if match[2] else total - 1
    if first >= total or last < first:
        raise ValueError(f"range {header!r} outside the file's {total} bytes")
    return first, last


@router.get(
    "/{sha256}/file",
    summary="A registered model file (edges; Range supported)",
    responses={
        200: {"content": {"application/octet-stream": {}}},
        206: {"description": "The requested byte range."},
        404: {"description": "No registered model file with this hash."},
        416: {"description": "The range lies outside the file."},
        503: {"description": "The stored file is missing or does not match its hash."},
    },
)
def model_file(
    sha256: Sha,
    session: SessionDep,
    state: StateDep,
    _edge: EdgeDep,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
) -> Response:
    """The bytes of a registered model, checked against their sha256 before they leave."""
    row = session.get(ModelFileRow, sha256)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no registered model {sha256}")
    try:
        data = state.store.read(sha256)
    except (EvidenceMissingError, EvidenceCorruptError) as exc:
        logger.error("model file %s unusable: %s", sha256, exc)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail="the model file is missing or corrupt"
        ) from exc
    headers = {"Accept-Ranges": "bytes", "ETag": f'"{sha256}"'}
    try:
        wanted = byte_range(range_header, len(data))
    except ValueError as exc:
        return Response(
            status_code=status.HTTP_416_RANGE_NOT_SATISFIABLE,
            content=str(exc),
            headers={**headers, "Content-Range": f"bytes */{len(data)}"},
        )
    if wanted is None:
        return Response(content=data, media_type="application/octet-stream", headers=headers)
    first, last = wanted
    return Response(
        content=data[first : last + 1],
        status_code=status.HTTP_206_PARTIAL_CONTENT,
        media_type="application/octet-stream",
        headers={**headers, "Content-Range": f"bytes {first}-{last}/{len(data)}"},
    )


class AssignmentOut(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)

    edge_id: str
    revision: int
    sha256: str
    previous_sha256: str | None
    action: str
    canary: bool
    assigned_by: str
    assigned_at: datetime
    reported_revision: int | None = Field(description="The revision the edge last answered.")
    reported_state: str | None = Field(description="applied, failed or skipped.")
    reported_sha256: str | None
    agreement: float | None = Field(description="Old and new model's agreement on its frames.")
    reported_detail: str | None
    reported_at: datetime | None


class StatusIn(BaseModel):
    """What an edge did with one assignment (its rollout's outcome)."""

    model_config = ConfigDict(extra="forbid")

    edge_id: str = Field(pattern=ID_PATTERN)
    revision: int = Field(ge=0)
    state: Literal["applied", "failed", "skipped"]
    sha256: str = Field(pattern=r"^([0-9a-f]{64})?$")
    agreement: float | None = Field(default=None, ge=0.0, le=1.0)
    detail: str = Field(max_length=4000)


@router.post(
    "/status",
    response_model=AssignmentOut,
    responses={
        403: {"description": "An edge may report for itself only."},
        404: {"description": "The edge has no assignment."},
    },
    summary="An edge reports what it did with its assignment",
)
def report_status(body: StatusIn, session: SessionDep, principal: EdgeDep) -> AssignmentOut:
    """Stored beside the assignment; ``models list`` and ``GET /models`` show it."""
    if principal.role is UserRole.EDGE and principal.username != body.edge_id:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"{principal.username} may not report for {body.edge_id}",
        )
    row = session.get(ModelAssignmentRow, body.edge_id)
    if row is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"edge {body.edge_id} has no assignment"
        )
    row.reported_revision = body.revision
    row.reported_state = body.state
    row.reported_sha256 = body.sha256 or None
    row.agreement = body.agreement
    row.reported_detail = body.detail
    row.reported_at = utcnow()
    session.commit()
    logger.info(
        "edge %s: revision %d %s (%s)", body.edge_id, body.revision, body.state, body.detail
    )
    return AssignmentOut.model_validate(row)


class PrecisionOut(BaseModel):
    """Confirmed / reviewed cases of one model version on one camera."""

    model_config = ConfigDict(frozen=True)

    model_name: str
    model_version: str
    camera_id: str
    reviewed: int
    confirmed: int
    precision: float | None = Field(description="confirmed / reviewed (null: none reviewed).")


CONFIRMED = ("confirmed", "dispatched", "disposed", "verified", "closed")


@router.get(
    "/precision",
    response_model=list[PrecisionOut],
    summary="Precision (confirmed / reviewed) per model version and camera",
)
def precision(session: SessionDep, _principal: ReaderDep) -> list[PrecisionOut]:
    """Every case names the model that raised it; a reviewed case is confirmed (and anything
    after it in its lifecycle) or rejected."""
    confirmed = func.sum(case((Case.status.in_(CONFIRMED), 1), else_=0))
    rows = session.execute(
        select(Case.model_name, Case.model_version, Case.camera_id, func.count(), confirmed)
        .where(Case.status.in_((*CONFIRMED, "rejected")))
        .group_by(Case.model_name, Case.model_version, Case.camera_id)
        .order_by(Case.model_name, Case.model_version, Case.camera_id)
    )
    return [
        PrecisionOut(
            model_name=name,
            model_version=version,
            camera_id=camera,
            reviewed=int(n),
            confirmed=int(c or 0),
            precision=(int(c or 0) / int(n)) if n else None,
        )
        for name, version, camera, n, c in rows
    ]


class ModelFileOut(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)

    sha256: str
    name: str
    version: str
    size_bytes: int
    registered_at: datetime


class RolloutOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    files: list[ModelFileOut]
    assignments: list[AssignmentOut]


@router.get("", response_model=RolloutOut, summary="Registered model files and assignments")
def list_rollout(session: SessionDep, _principal: ReaderDep) -> RolloutOut:
    """What the server serves and which edge should run what."""
    return RolloutOut(
        files=[
            ModelFileOut.model_validate(r)
            for r in session.scalars(select(ModelFileRow).order_by(ModelFileRow.registered_at))
        ],
        assignments=[
            AssignmentOut.model_validate(r)
            for r in session.scalars(
                select(ModelAssignmentRow).order_by(ModelAssignmentRow.edge_id)
            )
        ],
    )
