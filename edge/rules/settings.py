"""Settings of the rule engine and its rules (pydantic; part of the edge's config)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator


class StallDwellSettings(BaseModel):
    """Settings of the street-stall dwell rule (per-zone dwell and inertia are in the zone)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    update_interval_s: float = Field(
        default=30.0,
        gt=0.0,
        le=3600.0,
        allow_inf_nan=False,
        description="Least time between two updates of one ongoing event, in seconds.",
    )
    lost_grace_s: float = Field(
        default=10.0,
        ge=0.0,
        le=3600.0,
        allow_inf_nan=False,
        description="How long an object in a zone may go unseen (its track missing from the "
        "detections) before it counts as gone, in seconds.",
    )


class RulesSettings(BaseModel):
    """Settings shared by every rule of a camera."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = Field(
        default="Asia/Shanghai",
        min_length=1,
        max_length=64,
        description="IANA timezone in which zones' legal hours are read.",
    )
    stall_dwell: StallDwellSettings = Field(
        default_factory=StallDwellSettings, description="The street-stall dwell rule."
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r} (expected an IANA name)") from exc
        return value

    def tzinfo(self) -> ZoneInfo:
        """The configured timezone."""
        return ZoneInfo(self.timezone)
