"""Who sees which case: a principal acts on its unit's subtree only.

A case belongs to its camera's unit (the camera registry, joined on ``edge_id`` +
``camera_id``); it may also be assigned to a unit above (escalated) and dispatched to a
team. A principal sees a case when any of those three lies in its unit's subtree; a
city-wide principal (no unit) sees every case, including those from unregistered cameras.
Out of scope answers 404, never 403, so no one learns that another 街镇's case exists.

Example:
    >>> scope = scope_for(session, unit_id="sh-huangpu-nanjingdong")  # doctest: +SKIP
    >>> session.scalars(select(Case).where(visible_condition(scope)))  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, ScalarSelect, false, or_, select, true
from sqlalchemy.orm import Session

from server.org.tables import Camera
from server.org.units import UnitIndex, unit_index
from server.tables import Case


@dataclass(frozen=True, slots=True)
class Scope:
    """A principal's reach.

    Attributes:
        unit_id: The principal's unit (``None``: city-wide).
        units: The unit ids of its subtree (``None``: every unit and unit-less cases).
        index: The whole tree, for placement questions.
    """

    unit_id: str | None
    units: frozenset[str] | None
    index: UnitIndex

    def covers(self, unit_id: str | None) -> bool:
        """Whether ``unit_id`` is in reach (``None`` only for a city-wide principal)."""
        return self.units is None or (unit_id is not None and unit_id in self.units)

    def sees(self, *, camera_unit: str | None, case: Case) -> bool:
        """Whether a case with this camera unit is visible (the Python twin of the SQL)."""
        if self.units is None:
            return True
        return any(
            unit is not None and unit in self.units
            for unit in (camera_unit, case.assigned_unit_id, case.team_unit_id)
        )


def scope_for(session: Session, *, unit_id: str | None) -> Scope:
    """The scope of a principal in ``unit_id``; an unknown unit reaches nothing."""
    index = unit_index(session)
    if unit_id is None:
        return Scope(unit_id=None, units=None, index=index)
    return Scope(unit_id=unit_id, units=index.subtree(unit_id), index=index)


def camera_unit_of_case() -> ScalarSelect[str]:
    """A correlated subquery: the unit of the case's camera (NULL when not registered)."""
    return (
        select(Camera.unit_id)
        .where(Camera.edge_id == Case.edge_id, Camera.camera_id == Case.camera_id)
        .correlate(Case)
        .scalar_subquery()
    )


def visible_condition(scope: Scope) -> ColumnElement[bool]:
    """The SQL condition of :meth:`Scope.sees` over the ``cases`` table."""
    if scope.units is None:
        return true()
    if not scope.units:
        return false()
    units = sorted(scope.units)
    return or_(
        camera_unit_of_case().in_(units),
        Case.assigned_unit_id.in_(units),
        Case.team_unit_id.in_(units),
    )


def camera_unit(session: Session, case: Case) -> str | None:
    """The unit of a case's camera, or ``None`` when the camera is not registered."""
    return session.scalar(
        select(Camera.unit_id).where(
            Camera.edge_id == case.edge_id, Camera.camera_id == case.camera_id
        )
    )


def home_unit(session: Session, case: Case) -> str | None:
    """The unit that handles the case: its assigned unit, else its camera's."""
    return case.assigned_unit_id or camera_unit(session, case)
