"""Tables of the organisation: ``units`` (the tree) and ``cameras`` (the camera registry).

A unit is a city (市), a district (区), a street or town (街镇) or a field team under a
street. Every registered camera belongs to a street-level unit; a case belongs to its
camera's unit (joined on ``edge_id`` + ``camera_id``), and a case from a camera that is not
registered belongs to no unit (only city-level accounts see it).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, Enum, Float, ForeignKey, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column

from server.tables import Base, JsonType


class UnitLevel(StrEnum):
    """Where a unit stands in the tree; each level's parent is the level above."""

    CITY = "city"  # 市
    DISTRICT = "district"  # 区
    STREET = "street"  # 街镇
    TEAM = "team"  # a field team under a 街镇


PARENT_LEVEL: dict[UnitLevel, UnitLevel | None] = {
    UnitLevel.CITY: None,
    UnitLevel.DISTRICT: UnitLevel.CITY,
    UnitLevel.STREET: UnitLevel.DISTRICT,
    UnitLevel.TEAM: UnitLevel.STREET,
}
"""The level a unit's parent must have (``None``: the unit has no parent)."""


def _level_enum() -> Enum:
    return Enum(
        UnitLevel,
        name="unit_level",
        native_enum=False,
        create_constraint=True,
        length=16,
        validate_strings=True,
        values_callable=lambda members: [member.value for member in members],
    )


class Unit(Base):
    """One unit of the command structure; ``id`` is an identifier such as ``sh-huangpu``."""

    __tablename__ = "units"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    """The Chinese name (黄浦区)."""
    name_en: Mapped[str] = mapped_column(String(128))
    level: Mapped[UnitLevel] = mapped_column(_level_enum())
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"), index=True)
    outline: Mapped[dict[str, Any] | None] = mapped_column(JsonType, default=None)
    """The unit's area as a GeoJSON geometry (Polygon or MultiPolygon, lon/lat)."""
    sort_order: Mapped[int] = mapped_column(default=0, server_default="0")


class Camera(Base):
    """A registered camera: which street-level unit it belongs to and where it stands."""

    __tablename__ = "cameras"
    __table_args__ = (UniqueConstraint("edge_id", "camera_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    edge_id: Mapped[str] = mapped_column(String(64))
    camera_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"), index=True)
    lat: Mapped[float | None] = mapped_column(Float, default=None)
    lon: Mapped[float | None] = mapped_column(Float, default=None)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime]
