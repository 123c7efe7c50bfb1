"""The zone schema: what a camera's zone file holds, as validated pydantic models.

Polygons and lines are in 0..1 frame coordinates (origin top-left). Some keys belong to one
zone kind only: ``shop``, ``door_line`` and ``business_hours`` to ``shop_frontage`` (where
``shop`` and ``door_line`` are required), ``crossing_line`` to ``road`` and ``site_id`` to
``construction_site``. Reading a zone file and reporting its problems by line is
:mod:`zones.config`'s job.
"""

from __future__ import annotations

import difflib
from enum import StrEnum
from typing import Annotated, Any, Literal

import shapely
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError
from shapely.validation import explain_validity

from contracts.ids import Identifier
from zones.objects import KNOWN_OBJECTS
from zones.schedule import DailyWindow

MAX_POINTS = 256


class ZoneKind(StrEnum):
    """What a zone is for; each kind has its own rules."""

    NO_VENDING = "no_vending"  # street stalls (占道设摊)
    SHOP_FRONTAGE = "shop_frontage"  # cross-door operation (跨门经营)
    ROAD = "road"  # muck trucks (渣土车)
    CONSTRUCTION_SITE = "construction_site"  # construction sites (文明施工)


def _check_polygon(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    if len(points) < 3:
        raise PydanticCustomError(
            "polygon_too_few_points",
            "has {count} point(s); a polygon needs at least 3",
            {"count": len(points)},
        )
    polygon = shapely.Polygon(points)
    if not polygon.is_valid:
        reason = explain_validity(polygon)
        problem = "is self-intersecting" if "Self-intersection" in reason else "is not valid"
        raise PydanticCustomError(
            "polygon_invalid", "{problem} ({reason})", {"problem": problem, "reason": reason}
        )
    if polygon.area <= 0.0:
        raise PydanticCustomError("polygon_invalid", "has zero area")
    return points


def _check_object(name: str) -> str:
    if name not in KNOWN_OBJECTS:
        close = difflib.get_close_matches(name, KNOWN_OBJECTS, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise PydanticCustomError(
            "unknown_object",
            "unknown object {name} (known: {known}){hint}",
            {"name": repr(name), "known": ", ".join(KNOWN_OBJECTS), "hint": hint},
        )
    return name


def _check_unique(names: list[str]) -> list[str]:
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise PydanticCustomError(
            "duplicate_object",
            "lists {names} more than once",
            {"names": ", ".join(repr(n) for n in duplicates)},
        )
    return names


Coordinate = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False, strict=True)]
"""A coordinate as a fraction of the frame's width or height."""

Point = tuple[Coordinate, Coordinate]
"""``[x, y]`` in 0..1, origin at the top-left corner of the frame."""

Polygon = Annotated[
    list[Point],
    Field(max_length=MAX_POINTS),
    AfterValidator(_check_polygon),
]
"""A simple (non-self-intersecting) polygon of at least three points in 0..1."""

ObjectName = Annotated[str, AfterValidator(_check_object)]
"""One of :data:`zones.objects.KNOWN_OBJECTS`."""

DailyWindows = Annotated[list[DailyWindow], Field(max_length=24)]
"""At most 24 daily local-time windows (``"06:00-09:00"``)."""


def _check_line(points: tuple[tuple[float, float], tuple[float, float]]) -> Any:
    (x1, y1), (x2, y2) = points
    if (x1, y1) == (x2, y2):
        raise PydanticCustomError("line_invalid", "has two equal points; a line needs two")
    return points


LinePoints = Annotated[tuple[Point, Point], AfterValidator(_check_line)]
"""Two distinct points ``[[x1, y1], [x2, y2]]`` in 0..1: a straight line segment."""

Side = Literal["above", "below", "left", "right"]
"""A side of a line as seen in the image: ``below`` is towards the bottom of the frame."""

_STEEP = 1.7320508075688772  # tan(60 degrees)


def _check_side(
    points: tuple[tuple[float, float], tuple[float, float]], side: str, what: str, value: str
) -> None:
    (x1, y1), (x2, y2) = points
    dx, dy = abs(x2 - x1), abs(y2 - y1)
    vertical_words = "'left' or 'right'" if what == "street_side" else "'leftward' or 'rightward'"
    horizontal_words = "'above' or 'below'" if what == "street_side" else "'upward' or 'downward'"
    if side in ("above", "below") and dy > _STEEP * dx:
        raise PydanticCustomError(
            "line_side",
            "{what} '{value}' needs a line within 60 degrees of horizontal; this one is "
            "steeper, say {words}",
            {"what": what, "value": value, "words": vertical_words},
        )
    if side in ("left", "right") and dx > _STEEP * dy:
        raise PydanticCustomError(
            "line_side",
            "{what} '{value}' needs a line within 60 degrees of vertical; this one is "
            "flatter, say {words}",
            {"what": what, "value": value, "words": horizontal_words},
        )


class ShopRef(BaseModel):
    """The shop a frontage belongs to: the party that signed the frontage commitment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Identifier = Field(
        description="The shop's id in the city's register (letters, digits and _.-).",
    )
    name: str = Field(min_length=1, max_length=128, description="The shop's name.")


class DoorLine(BaseModel):
    """The line a shop's goods must stay behind, and which side of it is the street."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    points: LinePoints = Field(
        description="The line as [[x1, y1], [x2, y2]] in 0..1; both ends inside the zone."
    )
    street_side: Side = Field(
        description="The side of the line away from the shop, where goods must not stand: "
        "'below' / 'above' for a line within 60 degrees of horizontal, 'left' / 'right' for "
        "one within 60 degrees of vertical (as seen in the image)."
    )

    @model_validator(mode="after")
    def _side_fits(self) -> DoorLine:
        _check_side(self.points, self.street_side, "street_side", self.street_side)
        return self


Direction = Literal["any", "downward", "upward", "rightward", "leftward"]
"""Which way an object must cross a line, as seen in the image."""

_DIRECTION_SIDE: dict[str, str] = {
    "downward": "below",
    "upward": "above",
    "rightward": "right",
    "leftward": "left",
}


class CrossingLine(BaseModel):
    """A line that counts a vehicle when its anchor crosses it in a given direction."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    points: LinePoints = Field(
        description="The line as [[x1, y1], [x2, y2]] in 0..1; both ends inside the zone."
    )
    direction: Direction = Field(
        default="any",
        description="Crossings that count: 'downward' / 'upward' across a line within 60 "
        "degrees of horizontal, 'rightward' / 'leftward' across one within 60 degrees of "
        "vertical, or 'any'.",
    )

    @model_validator(mode="after")
    def _direction_fits(self) -> CrossingLine:
        if self.direction != "any":
            _check_side(self.points, _DIRECTION_SIDE[self.direction], "direction", self.direction)
        return self

    @property
    def to_side(self) -> str | None:
        """The side a counted crossing ends on (``None`` for any direction)."""
        return _DIRECTION_SIDE.get(self.direction)


_KIND_KEYS: dict[str, ZoneKind] = {}  # filled below, once ZoneKind is known


def _line_in_polygon(
    points: tuple[tuple[float, float], tuple[float, float]], info: ValidationInfo, what: str
) -> None:
    polygon = info.data.get("polygon")
    if not polygon:
        return  # the polygon's own problem is reported
    shape = shapely.Polygon(polygon)
    outside = [
        k + 1 for k, p in enumerate(points) if not shape.buffer(1e-9).covers(shapely.Point(p))
    ]
    if outside:
        ends = " and ".join(f"point {k} {list(points[k - 1])}" for k in outside)
        raise PydanticCustomError(
            "line_outside_zone",
            "{what} {ends} lies outside the zone's polygon; draw the line inside the zone",
            {"what": what, "ends": ends},
        )


class Zone(BaseModel):
    """One named zone of a camera's view and the objects it cares about.

    Fields without ``Field(description=...)`` are described by the docstring under them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    id: Identifier = Field(
        description="Stable id, unique per camera: letters, digits and _.- (at most 64).",
    )
    name: str = Field(min_length=1, max_length=128, description="Human-readable name.")
    kind: ZoneKind = Field(description="What the zone is for; selects the rules that apply.")
    polygon: Polygon = Field(
        description="Outline as [[x, y], ...] in 0..1 of the frame (3 to 256 points, simple)."
    )
    objects: Annotated[list[ObjectName], AfterValidator(_check_unique)] = Field(
        min_length=1,
        max_length=len(KNOWN_OBJECTS),
        description="Objects this zone cares about, from zones.objects.KNOWN_OBJECTS.",
    )
    min_box_wh: tuple[Coordinate, Coordinate] = Field(
        default=(0.0, 0.0),
        description="Minimum box [width, height] as fractions of the frame; smaller boxes "
        "are ignored.",
    )
    exclusions: list[Polygon] = Field(
        default_factory=list,
        max_length=32,
        description="Masks inside the zone: an object whose anchor falls in one never counts.",
    )
    dwell_s: float = Field(
        default=60.0,
        ge=0.0,
        le=86_400.0,
        allow_inf_nan=False,
        strict=True,
        description="Seconds an object must stay in the zone before an event starts (in "
        "no_vending zones the object must also be stationary, which the tracker calls it "
        "after its stationary.after_s, 10 s by default).",
    )
    inertia: int = Field(
        default=3,
        ge=1,
        le=100,
        strict=True,
        description="Consecutive analysed frames an object must be in (or out of) the zone "
        "before it counts as entered (or gone); suppresses flicker.",
    )
    legal_hours: DailyWindows = Field(
        default_factory=list,
        description='Daily local-time windows ("06:00-09:00") in which the activity is '
        "lawful and no event is raised; empty means never.",
    )
    shop: ShopRef | None = None
    """shop_frontage only (required there): the shop the frontage belongs to; its id and name
    go into every event."""
    door_line: DoorLine | None = None
    """shop_frontage only (required there): the line goods must stay behind."""
    business_hours: DailyWindows = Field(
        default_factory=list,
        description="shop_frontage only: daily local-time windows in which goods beyond the "
        "door line raise a case; empty means at all hours.",
    )
    crossing_line: CrossingLine | None = None
    """road only: count a truck when its anchor crosses this line (in the given direction)
    instead of when it enters the zone."""
    site_id: Identifier | None = None
    """construction_site only: the site's id, which joins IoT sensor readings published under
    civicwatch/v1/sensors/{site_id}/... to this zone's cases."""

    @field_validator("shop", "door_line", "business_hours", "crossing_line", "site_id")
    @classmethod
    def _for_its_kind(cls, value: Any, info: ValidationInfo) -> Any:
        assert info.field_name is not None
        owner = _KIND_KEYS[info.field_name]
        kind = info.data.get("kind")
        empty = value is None or value == []
        if kind is not None and kind != owner and not empty:
            raise PydanticCustomError(
                "wrong_kind_key",
                "only {owner} zones have a {key}; this zone is {kind}",
                {"owner": owner.value, "key": info.field_name, "kind": kind.value},
            )
        if isinstance(value, DoorLine | CrossingLine):
            _line_in_polygon(value.points, info, info.field_name)
        return value

    @model_validator(mode="after")
    def _kind_needs(self) -> Zone:
        if self.kind is ZoneKind.SHOP_FRONTAGE:
            missing = [k for k in ("shop", "door_line") if getattr(self, k) is None]
            if missing:
                raise PydanticCustomError(
                    "kind_needs",
                    "a shop_frontage zone needs {keys}",
                    {"keys": " and ".join(repr(k) for k in missing)},
                )
        return self


_KIND_KEYS.update(
    {
        "shop": ZoneKind.SHOP_FRONTAGE,
        "door_line": ZoneKind.SHOP_FRONTAGE,
        "business_hours": ZoneKind.SHOP_FRONTAGE,
        "crossing_line": ZoneKind.ROAD,
        "site_id": ZoneKind.CONSTRUCTION_SITE,
    }
)


class CameraZones(BaseModel):
    """Every zone of one camera: the content of one zone file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    camera_id: Identifier = Field(
        description="The camera these zones belong to (as in the edge config)."
    )
    zones: list[Zone] = Field(
        default_factory=list, max_length=64, description="The camera's zones; ids are unique."
    )

    @field_validator("zones", mode="wrap")
    @classmethod
    def _unique_ids(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> list[Zone]:
        # Checked on the raw input so a duplicate id is reported next to any other problem.
        duplicates: list[InitErrorDetails] = []
        first_index: dict[str, int] = {}
        if isinstance(value, list):
            for index, item in enumerate(value):
                zone_id = item.get("id") if isinstance(item, dict) else getattr(item, "id", None)
                if not isinstance(zone_id, str):
                    continue
                if zone_id in first_index:
                    duplicates.append(
                        InitErrorDetails(
                            type=PydanticCustomError(
                                "duplicate_zone_id",
                                "id is also used by zone #{first}",
                                {"first": first_index[zone_id] + 1},
                            ),
                            loc=(index, "id"),
                            input=zone_id,
                        )
                    )
                else:
                    first_index[zone_id] = index
        try:
            zones: list[Zone] = handler(value)
        except ValidationError as exc:
            if not duplicates:
                raise
            details = [_as_init_details(e) for e in exc.errors()]
            raise ValidationError.from_exception_data(exc.title, [*details, *duplicates]) from None
        if duplicates:
            raise ValidationError.from_exception_data(cls.__name__, duplicates)
        return zones

    def zone(self, zone_id: str) -> Zone:
        """Return the zone with ``zone_id``.

        Raises:
            KeyError: If the camera has no such zone.
        """
        for z in self.zones:
            if z.id == zone_id:
                return z
        raise KeyError(f"camera {self.camera_id!r} has no zone {zone_id!r}")


ZONE_ERROR_TYPES: frozenset[str] = frozenset(
    {
        "polygon_too_few_points",
        "polygon_invalid",
        "unknown_object",
        "duplicate_object",
        "duplicate_zone_id",
        "time_window",
        "line_invalid",
        "line_side",
        "line_outside_zone",
        "wrong_kind_key",
        "kind_needs",
    }
)
"""The custom pydantic error types the zone validators raise (their messages are complete)."""


def _as_init_details(error: Any) -> InitErrorDetails:
    """Turn one entry of ``ValidationError.errors()`` back into raisable details."""
    kind: str = error["type"]
    details = InitErrorDetails(type=kind, loc=error["loc"], input=error["input"])
    if kind in ZONE_ERROR_TYPES or kind in ("value_error", "assertion_error"):
        details["type"] = PydanticCustomError(kind, error["msg"])
    elif "ctx" in error:
        details["ctx"] = error["ctx"]
    return details
