"""One row of facts per case in reach (bounded), read with SQL that SQLite and PostgreSQL share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.org.scope import Scope, camera_unit_of_case, visible_condition
from server.tables import Case, CaseStatus


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What the statistics need of one case."""

    id: int
    violation_type: str
    status: CaseStatus
    edge_id: str
    camera_id: str
    home_unit: str | None
    """The unit handling the case: its assigned unit, else its camera's."""
    model_version: str
    first_seen: datetime
    created_at: datetime
    closed_at: datetime | None
    overdue_at: datetime | None


@dataclass(frozen=True, slots=True)
class FactsPage:
    """The facts read, newest first, and whether more cases matched."""

    items: list[CaseFacts]
    truncated: bool


def read_facts(
    session: Session,
    *,
    scopes: tuple[Scope, ...],
    since: datetime | None,
    until: datetime | None,
    max_rows: int,
) -> FactsPage:
    """Cases visible in every one of ``scopes`` and first seen in ``[since, until)``."""
    camera_unit = camera_unit_of_case().label("camera_unit")
    query = select(
        Case.id,
        Case.violation_type,
        Case.status,
        Case.edge_id,
        Case.camera_id,
        Case.assigned_unit_id,
        camera_unit,
        Case.model_version,
        Case.first_seen,
        Case.created_at,
        Case.closed_at,
        Case.overdue_at,
    ).where(*(visible_condition(scope) for scope in scopes))
    if since is not None:
        query = query.where(Case.first_seen >= since)
    if until is not None:
        query = query.where(Case.first_seen < until)
    rows = session.execute(
        query.order_by(Case.first_seen.desc(), Case.id.desc()).limit(max_rows + 1)
    ).all()
    items = [
        CaseFacts(
            id=row.id,
            violation_type=row.violation_type,
            status=row.status,
            edge_id=row.edge_id,
            camera_id=row.camera_id,
            home_unit=row.assigned_unit_id or row.camera_unit,
            model_version=row.model_version,
            first_seen=row.first_seen,
            created_at=row.created_at,
            closed_at=row.closed_at,
            overdue_at=row.overdue_at,
        )
        for row in rows[:max_rows]
    ]
    return FactsPage(items=items, truncated=len(rows) > max_rows)
