"""Units over HTTP: the tree a requester reaches, one unit, and admin changes."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, status
from sqlalchemy import func, select

from contracts.ids import ID_PATTERN
from server.api.deps import AdminDep, ReaderDep, ScopeDep, SessionDep
from server.org.config import UnitSpec
from server.org.schemas import UnitIn, UnitOut, UnitPatch, UnitTreeOut
from server.org.scope import Scope
from server.org.tables import Camera, Unit
from server.org.units import UnitError, create_unit, unit_index

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/units", tags=["units"])

UnitId = Annotated[str, Path(pattern=ID_PATTERN, description="The unit id.")]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such unit in reach."}}


def _tree(session: SessionDep, scope: Scope, roots: list[str], *, outlines: bool) -> list[UnitOut]:
    rows = {unit.id: unit for unit in session.scalars(select(Unit))}
    counts = {
        row.unit_id: int(row.cameras)
        for row in session.execute(
            select(Camera.unit_id, func.count().label("cameras")).group_by(Camera.unit_id)
        )
    }

    def build(unit_id: str) -> UnitOut:
        row = rows[unit_id]
        return UnitOut(
            id=row.id,
            name=row.name,
            name_en=row.name_en,
            level=row.level,
            parent_id=row.parent_id,
            sort_order=row.sort_order,
            outline=row.outline if outlines else None,
            cameras=counts.get(row.id, 0),
            children=[build(child) for child in scope.index.children.get(unit_id, [])],
        )

    return [build(root) for root in roots if root in rows]


@router.get("", response_model=UnitTreeOut, summary="The units tree in reach")
def read_units(
    session: SessionDep,
    _principal: ReaderDep,
    scope: ScopeDep,
    outlines: Annotated[bool, Query(description="Include each unit's GeoJSON outline.")] = False,
) -> UnitTreeOut:
    """The requester's unit and everything under it (every tree for a city-wide account)."""
    roots = scope.index.children.get(None, []) if scope.unit_id is None else [scope.unit_id]
    return UnitTreeOut(roots=_tree(session, scope, roots, outlines=outlines))


def _unit_in_reach(session: SessionDep, scope: Scope, unit_id: str) -> Unit:
    unit = session.get(Unit, unit_id)
    if unit is None or not scope.covers(unit_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"unit {unit_id} not found")
    return unit


@router.get("/{unit_id}", response_model=UnitOut, responses=_NOT_FOUND, summary="One unit")
def read_unit(
    session: SessionDep, _principal: ReaderDep, scope: ScopeDep, unit_id: UnitId
) -> UnitOut:
    """The unit with its outline and the units under it."""
    _unit_in_reach(session, scope, unit_id)
    return _tree(session, scope, [unit_id], outlines=True)[0]


@router.post(
    "",
    response_model=UnitOut,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "The id is taken."}, 422: {"description": "Bad placement."}},
    summary="Add a unit (admin)",
)
def add_unit(session: SessionDep, principal: AdminDep, scope: ScopeDep, body: UnitIn) -> UnitOut:
    """A unit under an existing parent of the level above (a city has none)."""
    if session.get(Unit, body.id) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"unit {body.id} exists")
    if not scope.covers(body.parent_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"unit {body.parent_id} not found")
    try:
        create_unit(
            session,
            spec=UnitSpec(
                id=body.id,
                name=body.name,
                name_en=body.name_en,
                level=body.level,
                parent_id=body.parent_id,
                outline=body.outline,
                sort_order=body.sort_order,
            ),
        )
    except UnitError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[{"loc": ["body", "parent_id"], "msg": str(exc), "type": "value_error"}],
        ) from exc
    session.commit()
    logger.info("unit %s (%s) added by %s", body.id, body.level.value, principal.username)
    refreshed = Scope(unit_id=scope.unit_id, units=None, index=unit_index(session))
    return _tree(session, refreshed, [body.id], outlines=True)[0]


@router.patch("/{unit_id}", response_model=UnitOut, responses=_NOT_FOUND, summary="Change a unit")
def change_unit(
    session: SessionDep, principal: AdminDep, scope: ScopeDep, unit_id: UnitId, body: UnitPatch
) -> UnitOut:
    """Rename a unit, set its outline or its order among its siblings."""
    unit = _unit_in_reach(session, scope, unit_id)
    changes = body.model_dump(exclude_unset=True)
    cleared = sorted(key for key, value in changes.items() if value is None and key != "outline")
    if cleared:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[
                {"loc": ["body", key], "msg": f"{key} cannot be null", "type": "value_error"}
                for key in cleared
            ],
        )
    for key, value in changes.items():
        setattr(unit, key, value)
    session.commit()
    logger.info("unit %s changed by %s", unit_id, principal.username)
    return _tree(session, scope, [unit_id], outlines=True)[0]
