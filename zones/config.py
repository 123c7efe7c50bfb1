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
from typing import Annotated, Any

import shapely
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
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
        description="Seconds an object must stay in the zone before an event starts.",
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
}
_PREDICATE_TYPES = frozenset({"polygon_too_few_points", "polygon_invalid", "duplicate_object"})
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
        elif context == "polygon":
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
        close = difflib.get_close_matches(key, _FIELDS_BY_LEVEL.get(level, ()), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        return f"{where + ': ' if where else ''}unknown key '{key}'{hint}"
    where = _where(rest)
    if kind == "missing":
        if rest and isinstance(rest[-1], str):
            return f"missing key '{where}'"
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
