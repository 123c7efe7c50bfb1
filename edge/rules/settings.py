"""Settings of the rule engine and its rules (pydantic; part of the edge's config).

Per-zone facts (polygon, objects, minimum box size, dwell, inertia, legal / business hours,
door line, crossing line, site id) live in the zone file; what is the same for every zone of
a rule (update interval, cool-down, thresholds, models) lives here. ``configs/rules.md``
documents every field with its default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contracts.sensors import Quantity
from edge.plates.settings import PlateReaderSettings
from zones.schedule import DailyWindow

_UPDATE = "Least time between two updates of one ongoing case, in seconds."
_COOLDOWN = (
    "Seconds a case stays open after its violation was last seen: the same violation seen "
    "again in that time (at the same place) continues the case instead of opening a new "
    "one, so one violation is one case; the end is sent when it runs out."
)
_LOST = (
    "How long an object may go unseen (its track missing from the detections and not held "
    "by the tracker) before it counts as gone, in seconds."
)


def _update_interval(default: float, *, most: float) -> Any:
    """The ``update_interval_s`` field of a rule: seconds, above 0, at most ``most``."""
    return Field(default, gt=0.0, le=most, allow_inf_nan=False, description=_UPDATE)


def _lost_grace(default: float, *, most: float) -> Any:
    """The ``lost_grace_s`` field of a rule: seconds, at least 0, at most ``most``."""
    return Field(default, ge=0.0, le=most, allow_inf_nan=False, description=_LOST)


def _cooldown(default: float, *, most: float) -> Any:
    """The ``cooldown_s`` field of a rule: seconds, at least 0, at most ``most``."""
    return Field(default, ge=0.0, le=most, allow_inf_nan=False, description=_COOLDOWN)


class _Settings(BaseModel):
    """Frozen, unknown keys refused; a field's description is the docstring under it."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class StallDwellSettings(_Settings):
    """Street stalls (``no_vending`` zones); dwell, inertia and legal hours are per zone."""

    update_interval_s: float = _update_interval(30.0, most=3600.0)
    lost_grace_s: float = _lost_grace(10.0, most=3600.0)
    cooldown_s: float = _cooldown(60.0, most=86_400.0)
    group_gap: float = Field(0.5, ge=0.0, le=10.0, allow_inf_nan=False)
    """Objects whose boxes are at most this many box heights apart (the larger of the two) form one
    stall: one case for an umbrella, its table, its goods and the vendor beside them."""


class CrossDoorSettings(_Settings):
    """Cross-door operation (``shop_frontage`` zones); door line, shop and hours per zone."""

    update_interval_s: float = _update_interval(60.0, most=3600.0)
    lost_grace_s: float = _lost_grace(10.0, most=3600.0)
    cooldown_s: float = _cooldown(120.0, most=86_400.0)
    line_margin: float = Field(0.1, ge=0.0, le=2.0, allow_inf_nan=False)
    """An object counts as beyond the door line when its anchor is past the line by at least this
    fraction of its box height (width, for a steep line), so boxes that jitter across the line do
    not count."""


class MuckTruckSettings(_Settings):
    """Unsealed muck trucks (``road`` zones): cover classification with a consensus."""

    cover_model: Path = Field(Path("models/cover-v1.onnx"))
    """The covered / uncovered classifier (ONNX) applied to each truck's load region; loaded only
    when a camera has a road zone."""
    window: int = Field(5, ge=1, le=100)
    """Consensus over the last this many classified frames of one truck."""
    votes: int = Field(3, ge=1, le=100)
    """Frames of the window that must agree for a verdict (3 of 5)."""
    uncovered_p: float = Field(0.7, gt=0.0, lt=1.0, allow_inf_nan=False)
    """A frame votes 'uncovered' when the classifier's probability of an uncovered load is at least
    this."""
    covered_p: float = Field(0.3, gt=0.0, lt=1.0, allow_inf_nan=False)
    """A frame votes 'covered' when that probability is at most this; in between it does not vote
    (the classifier is unsure: a cab seen from the front with the load behind it, a load half out of
    the frame)."""
    min_load_px: int = Field(24, ge=8, le=1024)
    """Load regions narrower or shorter than this many pixels are not classified (too small to
    tell)."""
    lost_grace_s: float = _lost_grace(3.0, most=600.0)
    cooldown_s: float = Field(10.0, ge=0.0, le=3600.0, allow_inf_nan=False)
    """Seconds a truck pass stays open after the truck was last seen: a truck that reappears within
    it (a new track starting near where the old one was lost) is the same pass, so one truck is one
    case."""
    rejoin_dist: float = Field(1.5, ge=0.0, le=10.0, allow_inf_nan=False)
    """How near a new truck track must start to a lost one (distance between box centres in box
    diagonals) to continue its pass."""
    plate_reader: PlateReaderSettings | None = None
    """The optional plate reader (detector and recogniser files with their sha256): a truck
    case reads the plate on the truck's best frames; without it the case says the plate was not
    read."""

    def vote(self, p_uncovered: float) -> bool | None:
        """One frame's vote: ``True`` uncovered, ``False`` covered, ``None`` unsure."""
        if p_uncovered >= self.uncovered_p:
            return True
        if p_uncovered <= self.covered_p:
            return False
        return None

    @model_validator(mode="after")
    def _votes_fit(self) -> MuckTruckSettings:
        if self.votes > self.window:
            raise ValueError(f"votes ({self.votes}) cannot exceed window ({self.window})")
        if self.covered_p >= self.uncovered_p:
            raise ValueError(
                f"covered_p ({self.covered_p}) must be below uncovered_p ({self.uncovered_p})"
            )
        return self


class SensorLimit(_Settings):
    """A limit on a rolling mean of one sensor quantity."""

    quantity: Quantity
    """pm10, pm2_5 or noise_laeq."""
    limit: float = Field(gt=0.0, allow_inf_nan=False)
    """The mean must stay at or below this (ug/m3, or dB(A) for noise)."""
    window_s: float = Field(900.0, ge=60.0, le=86_400.0, allow_inf_nan=False)
    """Length of the rolling mean, seconds (900 = a 15-minute mean)."""
    hours: list[DailyWindow] = Field(default_factory=list, max_length=24)
    """Local-time windows in which this limit applies; empty means always (e.g. a noise limit of 70
    dB(A) by day and 55 dB(A) at night)."""


def _default_limits() -> list[SensorLimit]:
    return [
        SensorLimit(quantity=Quantity.PM10, limit=150.0),
        SensorLimit(quantity=Quantity.PM2_5, limit=75.0),
        SensorLimit(
            quantity=Quantity.NOISE_LAEQ,
            limit=70.0,
            hours=[DailyWindow.model_validate("06:00-22:00")],
        ),
        SensorLimit(
            quantity=Quantity.NOISE_LAEQ,
            limit=55.0,
            hours=[DailyWindow.model_validate("22:00-06:00")],
        ),
    ]


class ConstructionSettings(_Settings):
    """Construction sites (``construction_site`` zones): bare soil and IoT sensors."""

    max_bare_share: float = Field(0.2, gt=0.0, lt=1.0, allow_inf_nan=False)
    """Largest share of the zone's area that may show bare soil not under a dust net; above it for
    the zone's dwell_s raises a case."""
    smoothing_s: float = Field(60.0, ge=0.0, le=3600.0, allow_inf_nan=False)
    """The share is the median over this many seconds of analysed frames, so a passing truck or a
    missed detection does not flip it."""
    min_score: float = Field(0.25, ge=0.0, le=1.0, allow_inf_nan=False)
    """Least detection score of a bare_soil or dust_net box to count."""
    raster_px: int = Field(96, ge=16, le=1024)
    """The zone is measured on a grid of this many cells along its longer side (coverage is exact to
    about 1 / raster_px of the zone)."""
    update_interval_s: float = _update_interval(300.0, most=86_400.0)
    cooldown_s: float = _cooldown(600.0, most=86_400.0)
    sensor_limits: list[SensorLimit] = Field(default_factory=_default_limits, max_length=32)
    """Limits on rolling means of the site's sensors (zone site_id); a mean above its limit joins
    the zone's case (or opens one)."""
    min_coverage: float = Field(0.75, gt=0.0, le=1.0, allow_inf_nan=False)
    """A rolling mean counts only once its samples span at least this share of the window (a sensor
    that just came online is not judged on two minutes)."""
    min_samples: int = Field(3, ge=1, le=10_000)
    """A rolling mean needs at least this many samples."""


class RulesSettings(_Settings):
    """Settings shared by every rule of a camera."""

    timezone: str = Field("Asia/Shanghai", min_length=1, max_length=64)
    """IANA timezone in which zones' legal and business hours and sensor limit hours are read."""
    stall_dwell: StallDwellSettings = Field(default_factory=StallDwellSettings)
    """Street stalls (no_vending zones)."""
    cross_door: CrossDoorSettings = Field(default_factory=CrossDoorSettings)
    """Cross-door operation (shop_frontage)."""
    muck_truck: MuckTruckSettings = Field(default_factory=MuckTruckSettings)
    """Unsealed muck trucks (road zones)."""
    construction: ConstructionSettings = Field(default_factory=ConstructionSettings)
    """Construction sites (construction_site zones)."""

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
