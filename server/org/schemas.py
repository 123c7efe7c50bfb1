"""API shapes of the organisation: units as a tree, and unit changes."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from contracts.ids import Identifier
from server.org.config import outline_problem
from server.org.tables import UnitLevel

_NAME = Annotated[str, Field(min_length=1, max_length=128)]


def _outline(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is not None:
        problem = outline_problem(value)
        if problem is not None:
            raise ValueError(problem)
    return value


class UnitOut(BaseModel):
    """A unit, with the units under it when listed as a tree."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str = Field(description="Chinese name.")
    name_en: str
    level: UnitLevel
    parent_id: str | None
    sort_order: int
    outline: dict[str, Any] | None = Field(
        default=None, description="GeoJSON Polygon/MultiPolygon (lon/lat), when asked for."
    )
    cameras: int = Field(default=0, description="Registered cameras directly in this unit.")
    children: list[UnitOut] = Field(default_factory=list)


class UnitTreeOut(BaseModel):
    """The units the requester reaches: its own unit (or every city) at the top."""

    model_config = ConfigDict(frozen=True)

    roots: list[UnitOut]


class UnitIn(BaseModel):
    """A new unit under an existing one of the level above."""

    model_config = ConfigDict(extra="forbid")

    id: Identifier
    name: _NAME
    name_en: _NAME
    level: UnitLevel
    parent_id: Identifier | None = None
    outline: dict[str, Any] | None = None
    sort_order: Annotated[int, Field(ge=0, le=1_000_000)] = 0

    _outline_ok = field_validator("outline")(_outline)


class UnitPatch(BaseModel):
    """Changes to a unit (its place in the tree and its level do not change)."""

    model_config = ConfigDict(extra="forbid")

    name: _NAME | None = None
    name_en: _NAME | None = None
    outline: dict[str, Any] | None = None
    sort_order: Annotated[int | None, Field(ge=0, le=1_000_000)] = None

    _outline_ok = field_validator("outline")(_outline)
