"""The statistics response (``GET /api/v1/stats``), documented in the OpenAPI."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class UnitCount(_Out):
    """Cases of one unit (``unit_id`` null: cameras not in the registry)."""

    unit_id: str | None
    name: str | None
    name_en: str | None
    level: str | None
    count: int


class KeyCount(_Out):
    """Cases with one value of a field."""

    key: str
    count: int


class DayCount(_Out):
    """Cases first seen on one day (Asia/Shanghai)."""

    day: date
    count: int


class ConfirmRate(_Out):
    """How many reviewed cases were confirmed (立案) rather than rejected."""

    key: str = Field(description="edge_id/camera_id, or the model version.")
    reviewed: int = Field(description="Confirmed (in any later status) plus rejected.")
    confirmed: int
    rate: float | None = Field(description="confirmed / reviewed; null when none reviewed.")


class Stats(_Out):
    """Statistics of the cases in reach, first seen in [since, until)."""

    unit_id: str | None = Field(description="The subtree counted (null: all in reach).")
    since: datetime | None
    until: datetime | None
    time_zone: str = Field(description="Days are counted in this zone.")
    total: int
    truncated: bool = Field(
        description="More cases matched than one request scans; the newest were counted."
    )
    by_unit: list[UnitCount] = Field(description="By the unit handling each case.")
    by_subunit: list[UnitCount] = Field(
        description="Rolled up to the units directly under the counted unit (city-wide: "
        "under the one city, its districts); cases handled by the unit itself count under it."
    )
    by_violation_type: list[KeyCount]
    by_status: list[KeyCount]
    by_day: list[DayCount] = Field(description="Every day of the range, zeros included.")
    confirm_rate_by_camera: list[ConfirmRate]
    confirm_rate_by_model_version: list[ConfirmRate]
    closed: int
    median_close_s: float | None = Field(
        description="Median seconds from a case's arrival on the server to its close."
    )
    overdue: int = Field(description="Cases whose dispatch deadline passed (ever).")
    overdue_open: int = Field(description="Overdue cases not closed yet.")
