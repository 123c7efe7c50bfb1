"""IoT sensor readings (dust PM10 / PM2.5, noise) and the series documents built from them.

**Topic**: a sensor publishes each reading to ``civicwatch/v1/sensors/{site_id}/{sensor_id}``
(:func:`contracts.topics.sensor_topic`), QoS 1, not retained; the ``site_id`` and
``sensor_id`` in the payload must match the topic's.

**Payload**: one :class:`SensorReading` as UTF-8 JSON, for example::

    {"schema_version": 1, "site_id": "site-7", "sensor_id": "dust-1",
     "measured_at": "2025-06-02T02:15:00Z",
     "values": [{"quantity": "pm10", "value": 182.5, "unit": "ug/m3"},
                {"quantity": "pm2_5", "value": 71.0, "unit": "ug/m3"},
                {"quantity": "noise_laeq", "value": 68.2, "unit": "dB(A)"}]}

Each value is a reading over the sensor's own short interval (typically one minute): mass
concentration in micrograms per cubic metre for particulates, A-weighted equivalent sound
level in decibels for noise. Every value must be finite, non-negative, in the quantity's
unit (:data:`UNITS`; no conversion is attempted: a reading in ``mg/m3`` is refused) and at
most the quantity's plausible maximum (:data:`MAX_VALUE`).

:class:`SensorSeries` is the JSON evidence a rule attaches when a rolling mean exceeds its
limit: the samples of the window with the mean and the limit.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from contracts.events import Identifier, UtcDatetime

SCHEMA_VERSION: Literal[1] = 1


class Quantity(StrEnum):
    """What a sensor value measures."""

    PM10 = "pm10"  # particulate matter <= 10 um, ug/m3
    PM2_5 = "pm2_5"  # particulate matter <= 2.5 um, ug/m3
    NOISE_LAEQ = "noise_laeq"  # A-weighted equivalent continuous sound level, dB(A)


UNITS: dict[Quantity, str] = {
    Quantity.PM10: "ug/m3",
    Quantity.PM2_5: "ug/m3",
    Quantity.NOISE_LAEQ: "dB(A)",
}
"""The one unit each quantity must be sent in."""

MAX_VALUE: dict[Quantity, float] = {
    Quantity.PM10: 10_000.0,
    Quantity.PM2_5: 10_000.0,
    Quantity.NOISE_LAEQ: 150.0,
}
"""Largest plausible value per quantity; above it a reading is refused as absurd."""


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=256)


class SensorValue(_Wire):
    """One measured value of a reading."""

    quantity: Quantity = Field(description="What is measured.")
    value: float = Field(
        ge=0.0, allow_inf_nan=False, description="The measured value, in ``unit``."
    )
    unit: str = Field(min_length=1, max_length=16, description="Must be UNITS[quantity].")

    @model_validator(mode="after")
    def _unit_and_range(self) -> SensorValue:
        expected = UNITS[self.quantity]
        if self.unit != expected:
            raise ValueError(
                f"{self.quantity.value} must be in {expected!r}, got {self.unit!r} "
                "(values are not converted)"
            )
        if self.value > MAX_VALUE[self.quantity]:
            raise ValueError(
                f"{self.quantity.value} = {self.value} {self.unit} is not plausible "
                f"(at most {MAX_VALUE[self.quantity]:g})"
            )
        return self


def _unique_quantities(values: list[SensorValue]) -> list[SensorValue]:
    seen = [v.quantity for v in values]
    twice = sorted({q.value for q in seen if seen.count(q) > 1})
    if twice:
        raise ValueError(f"quantity {', '.join(twice)} appears more than once")
    return values


class SensorReading(_Wire):
    """One reading of one sensor: the payload on ``civicwatch/v1/sensors/{site}/{sensor}``."""

    schema_version: Literal[1] = Field(default=SCHEMA_VERSION, description="Schema version.")
    site_id: Identifier = Field(description="The site the sensor stands on (as in the topic).")
    sensor_id: Identifier = Field(description="The sensor (as in the topic).")
    measured_at: UtcDatetime = Field(description="End of the measuring interval, with zone.")
    values: Annotated[list[SensorValue], AfterValidator(_unique_quantities)] = Field(
        min_length=1, max_length=8, description="The values measured; each quantity once."
    )

    def to_json(self) -> bytes:
        """UTF-8 JSON for the wire."""
        return self.model_dump_json().encode("utf-8")


class SeriesPoint(_Wire):
    """One sample of a series."""

    t: UtcDatetime = Field(description="When it was measured.")
    value: float = Field(allow_inf_nan=False, description="The value, in the series' unit.")
    sensor_id: str = Field(default="", max_length=64, description="Which sensor measured it.")


class SensorSeries(_Wire):
    """Evidence of a measured exceedance: the samples of the window that exceeded."""

    schema_version: Literal[1] = Field(default=SCHEMA_VERSION, description="Schema version.")
    site_id: str = Field(min_length=1, max_length=64, description="The site (or zone).")
    quantity: str = Field(
        min_length=1, max_length=32, description="A Quantity, or 'bare_soil_share' (camera)."
    )
    unit: str = Field(min_length=1, max_length=16, description="Unit of every value.")
    statistic: Literal["mean", "energy_mean", "median"] = Field(
        description="How the window's samples are summarised (energy_mean for decibels, "
        "median for the camera's bare-soil share)."
    )
    window_s: float = Field(gt=0.0, allow_inf_nan=False, description="Window length, seconds.")
    limit: float = Field(allow_inf_nan=False, description="The limit the statistic exceeded.")
    value: float = Field(allow_inf_nan=False, description="The statistic over the window.")
    window_end: UtcDatetime = Field(description="End of the window (UTC).")
    points: list[SeriesPoint] = Field(max_length=20_000, description="The samples, oldest first.")
