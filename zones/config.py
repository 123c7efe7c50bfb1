"""Zone files: one YAML file per camera, polygons in 0..1 frame coordinates.

A zone file looks like this::

    camera_id: demo-cam
    zones:
      - id: pavement
        name: South pavement
        kind: no_vending
        polygon: [[0.0, 0.6], [1.0, 0.6], [1.0, 1.0], [0.0, 1.0]]
        objects: [stall, goods]
        min_box_wh: [0.02, 0.02]
        exclusions: [[[0.8, 0.6], [1.0, 0.6], [1.0, 0.8]]]
        dwell_s: 60
        inertia: 3
        legal_hours: ["06:00-09:00", "18:00-22:00"]
      - id: shop-12
        name: Frontage of shop no. 12
        kind: shop_frontage
        polygon: [[0.1, 0.4], [0.4, 0.4], [0.4, 0.6], [0.1, 0.6]]
        objects: [goods, stall]
        shop: {id: SH-0012, name: "Li's Fruit"}
        door_line: {points: [[0.1, 0.45], [0.4, 0.45]], street_side: below}
        business_hours: ["08:00-22:00"]

Some keys belong to one zone kind only: ``shop``, ``door_line`` and ``business_hours`` to
``shop_frontage`` (where ``shop`` and ``door_line`` are required), ``crossing_line`` to
``road`` and ``site_id`` to ``construction_site``.

:func:`load_zone_file` returns a validated :class:`CameraZones` or raises
:class:`ZoneFileError` listing *every* problem, each naming the file, the YAML line, the
zone and what is wrong, e.g.
``cam1.yaml:7: zone 'market-st': polygon is self-intersecting (Self-intersection[0.5 0.5])``.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import shapely
import yaml
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

from zones.objects import KNOWN_OBJECTS
from zones.schedule import DailyWindow

logger = logging.getLogger(__name__)

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
"""Zone and camera ids: usable in MQTT topics and file names (as in ``contracts``)."""

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

    id: str = Field(
        pattern=ID_PATTERN,
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
    """One named zone of a camera's view and the objects it cares about."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(
        pattern=ID_PATTERN,
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
    legal_hours: list[DailyWindow] = Field(
        default_factory=list,
        max_length=24,
        description='Daily local-time windows ("06:00-09:00") in which the activity is '
        "lawful and no event is raised; empty means never.",
    )
    shop: ShopRef | None = Field(
        default=None,
        description="shop_frontage only (required there): the shop the frontage belongs to; "
        "its id and name go into every event.",
    )
    door_line: DoorLine | None = Field(
        default=None,
        description="shop_frontage only (required there): the line goods must stay behind.",
    )
    business_hours: list[DailyWindow] = Field(
        default_factory=list,
        max_length=24,
        description="shop_frontage only: daily local-time windows in which goods beyond the "
        "door line raise a case; empty means at all hours.",
    )
    crossing_line: CrossingLine | None = Field(
        default=None,
        description="road only: count a truck when its anchor crosses this line (in the "
        "given direction) instead of when it enters the zone.",
    )
    site_id: str | None = Field(
        default=None,
        pattern=ID_PATTERN,
        description="construction_site only: the site's id, which joins IoT sensor readings "
        "published under civicwatch/v1/sensors/{site_id}/... to this zone's cases.",
    )

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

    camera_id: str = Field(
        pattern=ID_PATTERN, description="The camera these zones belong to (as in the edge config)."
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


def _as_init_details(error: Any) -> InitErrorDetails:
    """Turn one entry of ``ValidationError.errors()`` back into raisable details."""
    kind: str = error["type"]
    details = InitErrorDetails(type=kind, loc=error["loc"], input=error["input"])
    if kind in _CUSTOM_TYPES or kind in ("value_error", "assertion_error"):
        details["type"] = PydanticCustomError(kind, error["msg"])
    elif "ctx" in error:
        details["ctx"] = error["ctx"]
    return details


_CUSTOM_TYPES = frozenset(
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


class ZoneFileError(ValueError):
    """A zone file that cannot be used; ``problems`` lists everything wrong with it.

    Attributes:
        path: The file.
        problems: One line per problem, each starting with ``path:line:``.
    """

    def __init__(self, path: Path, problems: Sequence[str]) -> None:
        self.path = path
        self.problems = list(problems)
        count = len(self.problems)
        header = f"{path}: {count} problem{'s' if count != 1 else ''}"
        super().__init__("\n".join([header, *self.problems]))


def load_zone_file(path: Path) -> CameraZones:
    """Read and validate one camera's zone file.

    Args:
        path: A YAML zone file.

    Returns:
        The validated zones.

    Raises:
        ZoneFileError: If the file cannot be read, is not YAML, or breaks any rule; the
            error lists every problem found.

    Example:
        >>> zones = load_zone_file(Path("configs/zones/demo-cam.yaml"))  # doctest: +SKIP
        >>> zones.camera_id  # doctest: +SKIP
        'demo-cam'
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ZoneFileError(path, [f"{path}: cannot read: {exc}"]) from exc
    return parse_zone_text(text, source=path)


def parse_zone_text(text: str, *, source: Path) -> CameraZones:
    """Validate zone-file content; ``source`` names the file in error messages.

    Args:
        text: YAML text of a zone file.
        source: Where the text came from, used only in messages.

    Returns:
        The validated zones.

    Raises:
        ZoneFileError: Listing every problem found.
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else f"{source}"
        parts = [getattr(exc, "context", None), getattr(exc, "problem", None)]
        problem = "; ".join(p for p in parts if p) or str(exc)
        raise ZoneFileError(source, [f"{where}: not valid YAML: {problem}"]) from exc
    if root is None or data is None:
        raise ZoneFileError(
            source, [f"{source}: file is empty; expected a mapping with camera_id and zones"]
        )
    if not isinstance(data, dict):
        raise ZoneFileError(
            source,
            [
                f"{source}:{root.start_mark.line + 1}: expected a mapping with camera_id and "
                f"zones, got {type(data).__name__}"
            ],
        )
    found: list[tuple[int, str]] = [
        (line, f"{source}:{line}: {msg}") for line, msg in _duplicate_keys(root, data)
    ]
    try:
        zones = CameraZones.model_validate(data)
    except ValidationError as exc:
        found.extend(_describe(error, data, root, source) for error in exc.errors())
    if found:
        # In file order; problems on one line keep pydantic's order.
        raise ZoneFileError(source, [text for _, text in sorted(found, key=lambda f: f[0])])
    logger.debug("zone file %s: camera %s, %d zones", source, zones.camera_id, len(zones.zones))
    return zones


@dataclass(frozen=True, slots=True)
class ZoneFileCheck:
    """The outcome of checking one zone file.

    Attributes:
        path: The file.
        zones: Its zones when valid, else ``None``.
        problems: Everything wrong with it (empty when valid).
    """

    path: Path
    zones: CameraZones | None
    problems: tuple[str, ...]


def check_zone_files(paths: Iterable[Path]) -> list[ZoneFileCheck]:
    """Check several zone files, one result per file, in order.

    Besides each file's own problems, a camera id already used by an earlier file is a
    problem of the later file.
    """
    results: list[ZoneFileCheck] = []
    owner: dict[str, Path] = {}
    for path in paths:
        try:
            zones = load_zone_file(path)
        except ZoneFileError as exc:
            results.append(ZoneFileCheck(path, None, tuple(exc.problems)))
            continue
        if zones.camera_id in owner:
            problem = (
                f"{path}: camera_id '{zones.camera_id}' is also used by {owner[zones.camera_id]}"
            )
            results.append(ZoneFileCheck(path, None, (problem,)))
            continue
        owner[zones.camera_id] = path
        results.append(ZoneFileCheck(path, zones, ()))
    return results


def validate_zone_files(paths: Iterable[Path]) -> list[str]:
    """Validate several zone files; return every problem of every file (empty when all pass).

    Also reports a camera id that appears in more than one file.
    """
    return [problem for check in check_zone_files(paths) for problem in check.problems]


# ---------------------------------------------------------------------------------------------
# Turning pydantic errors into one readable line each.

_FIELDS_BY_LEVEL = {
    "camera": tuple(CameraZones.model_fields),
    "zone": tuple(Zone.model_fields),
    "door_line": tuple(DoorLine.model_fields),
    "crossing_line": tuple(CrossingLine.model_fields),
    "shop": tuple(ShopRef.model_fields),
}
_PREDICATE_TYPES = frozenset(
    {"polygon_too_few_points", "polygon_invalid", "duplicate_object", "line_invalid"}
)
"""Custom errors phrased to follow their subject: ``polygon is self-intersecting (...)``."""


def _describe(error: Any, data: dict[str, Any], root: yaml.Node, source: Path) -> tuple[int, str]:
    loc: tuple[int | str, ...] = tuple(error["loc"])
    line = _line_of(root, loc)
    prefix = f"{source}:{line}"
    level = "camera"
    rest = loc
    if len(loc) >= 2 and loc[0] == "zones" and isinstance(loc[1], int):
        level = "zone"
        rest = loc[2:]
        prefix += f": {_zone_label(data, loc[1])}"
    return line, f"{prefix}: {_problem(error, rest, level)}"


def _zone_label(data: dict[str, Any], index: int) -> str:
    zones = data.get("zones")
    if isinstance(zones, list) and index < len(zones) and isinstance(zones[index], dict):
        zone_id = zones[index].get("id")
        if isinstance(zone_id, str) and zone_id:
            same = [z for z in zones if isinstance(z, dict) and z.get("id") == zone_id]
            return f"zone '{zone_id}'" + (f" (#{index + 1})" if len(same) > 1 else "")
    return f"zone #{index + 1}"


def _where(rest: tuple[int | str, ...]) -> str:
    """Render a location inside a zone: ``polygon point 3 y``, ``exclusion 1 point 2 x``."""
    words: list[str] = []
    context: str | None = None
    for part in rest:
        if isinstance(part, str):
            words.append(part)
            context = part
        elif context == "exclusions":
            words[-1] = f"exclusion {part + 1}"
            context = "polygon"
        elif context in ("polygon", "points"):
            words.append(f"point {part + 1}")
            context = "point"
        elif context == "point" and part in (0, 1):
            words.append("xy"[part])
            context = None
        elif context == "min_box_wh" and part in (0, 1):
            words.append("wh"[part])
            context = None
        else:
            words.append(f"item {part + 1}")
            context = None
    return " ".join(words)


def _problem(error: Any, rest: tuple[int | str, ...], level: str) -> str:
    kind: str = error["type"]
    msg: str = error["msg"]
    value = error.get("input")
    if kind == "extra_forbidden" and rest and isinstance(rest[-1], str):
        key = rest[-1]
        where = _where(rest[:-1])
        if level == "zone" and len(rest) == 2 and str(rest[0]) in _FIELDS_BY_LEVEL:
            level = str(rest[0])  # a key inside door_line, crossing_line or shop
        close = difflib.get_close_matches(key, _FIELDS_BY_LEVEL.get(level, ()), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        return f"{where + ': ' if where else ''}unknown key '{key}'{hint}"
    where = _where(rest)
    if kind == "missing":
        if rest and isinstance(rest[-1], str):
            inner = _where(rest[:-1])
            return f"{inner}: missing key '{rest[-1]}'" if inner else f"missing key '{where}'"
        return f"{where} is missing"
    if kind in ("greater_than_equal", "less_than_equal") and (
        " point " in f" {where} " or where.startswith("min_box_wh")
    ):
        return f"{where} = {value!r} is outside 0..1"
    if kind == "duplicate_zone_id":
        return f"duplicate zone id '{value}': {msg}"
    if kind in _PREDICATE_TYPES:
        return f"{where} {msg}"
    if kind not in _CUSTOM_TYPES and value is not None and not isinstance(value, dict | list):
        msg = f"{msg} (got {value!r})"
    return f"{where}: {msg}" if where else msg


def _line_of(root: yaml.Node, loc: tuple[int | str, ...]) -> int:
    """1-based YAML line of the deepest node that ``loc`` reaches."""
    node: yaml.Node = root
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == part:
                    child = value
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            child = node.value[part]
        if child is None:
            # An unknown key: point at the key itself.
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                for key, _ in node.value:
                    if isinstance(key, yaml.ScalarNode) and key.value == part:
                        return int(key.start_mark.line) + 1
            break
        node = child
    return int(node.start_mark.line) + 1


def _duplicate_keys(root: yaml.Node, data: dict[str, Any]) -> list[tuple[int, str]]:
    """YAML silently keeps the last of two equal keys; report them instead."""
    found: list[tuple[int, str]] = []

    def check(node: yaml.MappingNode, label: str | None) -> None:
        seen: dict[str, int] = {}
        for key, _ in node.value:
            if not isinstance(key, yaml.ScalarNode):
                continue
            line = int(key.start_mark.line) + 1
            if key.value in seen:
                where = f"{label}: " if label else ""
                found.append(
                    (
                        line,
                        f"{where}duplicate key '{key.value}' (first on line {seen[key.value]}); "
                        "YAML would silently keep only the last",
                    )
                )
            else:
                seen[key.value] = line

    def walk(node: yaml.Node, label: str | None) -> None:
        if isinstance(node, yaml.MappingNode):
            check(node, label)
            for _, value in node.value:
                walk(value, label)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                walk(item, label)

    if isinstance(root, yaml.MappingNode):
        check(root, None)
        for key, value in root.value:
            is_zones = isinstance(key, yaml.ScalarNode) and key.value == "zones"
            if is_zones and isinstance(value, yaml.SequenceNode):
                for index, item in enumerate(value.value):
                    walk(item, _zone_label(data, index))
            else:
                walk(value, None)
    return found
