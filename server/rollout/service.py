"""Keyword-only database operations of the rollout; callers own the transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contracts.model_rollout import MAX_MODEL_BYTES, AssignedModel, ModelAssignmentMessage
from server.evidence_store import EvidenceBackend
from server.rollout.tables import ModelAssignmentLog, ModelAssignmentRow, ModelFileRow


class RolloutError(ValueError):
    """A rollout request that cannot be done (unknown model or edge, nothing to roll back)."""


class AssignmentConflictError(RolloutError):
    """The edge's assignment changed since the operator read it (another operator won)."""


def model_path(sha256: str) -> str:
    return f"/api/v1/models/{sha256}/file"


def register_model(
    session: Session,
    store: EvidenceBackend,
    *,
    data: bytes,
    name: str,
    version: str,
    by: str,
    now: datetime,
) -> ModelFileRow:
    """Store a model file by sha256 (the evidence store's content addressing) and list it.

    Raises:
        RolloutError: Empty or too large, or the name and version name another file.
    """
    if not data or len(data) > MAX_MODEL_BYTES:
        raise RolloutError(f"a model file must have 1..{MAX_MODEL_BYTES} bytes, not {len(data)}")
    sha = hashlib.sha256(data).hexdigest()
    same_name = session.scalar(
        select(ModelFileRow).where(ModelFileRow.name == name, ModelFileRow.version == version)
    )
    if same_name is not None and same_name.sha256 != sha:
        raise RolloutError(f"{name}@{version} is already registered with another file")
    store.write(sha, data)
    row = session.get(ModelFileRow, sha)
    if row is None:
        row = ModelFileRow(
            sha256=sha,
            name=name,
            version=version,
            size_bytes=len(data),
            registered_by=by,
            registered_at=now,
        )
        session.add(row)
        session.flush()
    return row


def find_model(session: Session, ref: str) -> ModelFileRow:
    """A registered file by sha256 or ``NAME@VERSION``.

    Raises:
        RolloutError: No such file.
    """
    if "@" in ref:
        name, _, version = ref.partition("@")
        row = session.scalar(
            select(ModelFileRow).where(ModelFileRow.name == name, ModelFileRow.version == version)
        )
    else:
        row = session.get(ModelFileRow, ref)
    if row is None:
        known = ", ".join(f"{r.name}@{r.version}" for r in session.scalars(select(ModelFileRow)))
        raise RolloutError(f"no registered model {ref!r} (registered: {known or 'none'})")
    return row


def current(session: Session, edge_ids: Sequence[str]) -> dict[str, ModelAssignmentRow]:
    rows = session.scalars(
        select(ModelAssignmentRow).where(ModelAssignmentRow.edge_id.in_(list(edge_ids)))
    )
    return {row.edge_id: row for row in rows}


@dataclass(frozen=True, slots=True)
class Assigned:
    """One edge's new assignment (to publish once committed)."""

    edge_id: str
    revision: int
    message: ModelAssignmentMessage


def _assigned(session: Session, sha: str | None) -> AssignedModel | None:
    if sha is None:
        return None
    row = session.get(ModelFileRow, sha)
    if row is None:
        return None
    return AssignedModel(
        name=row.name,
        version=row.version,
        sha256=row.sha256,
        size_bytes=row.size_bytes,
        path=model_path(row.sha256),
    )


def message_of(session: Session, row: ModelAssignmentRow) -> ModelAssignmentMessage:
    model = _assigned(session, row.sha256)
    if model is None:
        raise RolloutError(f"edge {row.edge_id}: assigned file {row.sha256} is not registered")
    return ModelAssignmentMessage(
        edge_id=row.edge_id,
        revision=row.revision,
        action=row.action,
        model=model,
        previous=_assigned(session, row.previous_sha256),
        canary=row.canary,
        assigned_by=row.assigned_by,
        assigned_at=row.assigned_at,
    )


def _write(
    session: Session,
    *,
    edge_id: str,
    seen: int | None,
    sha: str,
    previous: str | None,
    action: str,
    canary: bool,
    by: str,
    now: datetime,
) -> Assigned:
    """Insert or conditionally update one edge's assignment; a moved revision conflicts."""
    revision = (seen or 0) + 1
    values = {
        "revision": revision,
        "sha256": sha,
        "previous_sha256": previous,
        "action": action,
        "canary": canary,
        "assigned_by": by,
        "assigned_at": now,
    }
    if seen is None:
        try:
            with session.begin_nested():
                session.execute(insert(ModelAssignmentRow).values(edge_id=edge_id, **values))
        except IntegrityError as exc:
            raise AssignmentConflictError(
                f"edge {edge_id} was assigned a model by someone else meanwhile; read it again"
            ) from exc
    else:
        result = session.execute(
            update(ModelAssignmentRow)
            .where(ModelAssignmentRow.edge_id == edge_id, ModelAssignmentRow.revision == seen)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise AssignmentConflictError(
                f"edge {edge_id} is no longer at revision {seen}: another operator assigned a "
                "model meanwhile; look again (models list) and repeat if still wanted"
            )
    session.add(
        ModelAssignmentLog(
            edge_id=edge_id,
            revision=revision,
            sha256=sha,
            action=action,
            canary=canary,
            assigned_by=by,
            assigned_at=now,
        )
    )
    session.flush()
    row = session.get(ModelAssignmentRow, edge_id, populate_existing=True)
    assert row is not None
    return Assigned(edge_id, revision, message_of(session, row))


def assign(
    session: Session,
    *,
    edge_ids: Sequence[str],
    model: ModelFileRow,
    seen: Mapping[str, int | None],
    canary: bool,
    by: str,
    now: datetime,
) -> list[Assigned]:
    """Assign ``model`` to each edge, against the revision the operator read (``seen``).

    Raises:
        AssignmentConflictError: An edge's assignment moved since ``seen`` was read.
    """
    if not edge_ids:
        raise RolloutError("no edge to assign to")
    out = []
    for edge_id in edge_ids:
        before = session.get(ModelAssignmentRow, edge_id)
        out.append(
            _write(
                session,
                edge_id=edge_id,
                seen=seen.get(edge_id),
                sha=model.sha256,
                previous=before.sha256 if before is not None else None,
                action="assign",
                canary=canary,
                by=by,
                now=now,
            )
        )
    return out


def rollback(
    session: Session, *, edge_id: str, seen: int | None, by: str, now: datetime
) -> Assigned:
    """Assign the edge's previous model again (the same way as an assignment).

    Raises:
        RolloutError: The edge has no previous model.
        AssignmentConflictError: Its assignment moved since ``seen``.
    """
    row = session.get(ModelAssignmentRow, edge_id)
    if row is None or row.previous_sha256 is None:
        raise RolloutError(f"edge {edge_id} has no earlier model to roll back to")
    return _write(
        session,
        edge_id=edge_id,
        seen=seen,
        sha=row.previous_sha256,
        previous=row.sha256,
        action="rollback",
        canary=False,
        by=by,
        now=now,
    )


def edges_of_unit(session: Session, unit_id: str) -> list[str]:
    """The edges with a camera in ``unit_id`` or below it (a group)."""
    from server.org.tables import Camera, Unit

    units = {unit_id}
    frontier = {unit_id}
    while frontier:
        children = set(session.scalars(select(Unit.id).where(Unit.parent_id.in_(frontier))))
        frontier = children - units
        units |= children
    return sorted(set(session.scalars(select(Camera.edge_id).where(Camera.unit_id.in_(units)))))
