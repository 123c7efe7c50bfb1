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

The models are in :mod:`zones.schema` (re-exported here). Some keys belong to one zone kind
only: ``shop``, ``door_line`` and ``business_hours`` to ``shop_frontage`` (where ``shop`` and
``door_line`` are required), ``crossing_line`` to ``road`` and ``site_id`` to
``construction_site``.

:func:`load_zone_file` returns a validated :class:`CameraZones` or raises
:class:`ZoneFileError` listing *every* problem, each naming the file, the YAML line, the
zone and what is wrong (the YAML side of it is :mod:`contracts.yamlconfig`'s, shared by every
config loader), e.g.
``cam1.yaml:7: zone 'market-st': polygon is self-intersecting (Self-intersection[0.5 0.5])``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from contracts.yamlconfig import (
    ConfigError,
    Loc,
    Problem,
    YamlDocument,
    did_you_mean,
    duplicate_keys,
    parse_yaml,
    read_yaml,
)
from zones.schema import (
    MAX_POINTS,
    ZONE_ERROR_TYPES,
    CameraZones,
    Coordinate,
    CrossingLine,
    Direction,
    DoorLine,
    LinePoints,
    ObjectName,
    Point,
    Polygon,
    ShopRef,
    Side,
    Zone,
    ZoneKind,
)

logger = logging.getLogger(__name__)

_EXPECTED = "a mapping with camera_id and zones"


class ZoneFileError(ConfigError):
    """A zone file that cannot be used; ``problems`` lists everything wrong with it.

    Attributes:
        path: The file.
        problems: One line per problem, each starting with ``path:line:``.
    """


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
    return _validate(read_yaml(path, expected=_EXPECTED, error=ZoneFileError))


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
    return _validate(parse_yaml(text, source=source, expected=_EXPECTED, error=ZoneFileError))


def _validate(document: YamlDocument) -> CameraZones:
    zones, problems = _check_document(document)
    if zones is None:
        raise ZoneFileError(document.source, [p.message for p in problems])
    logger.debug(
        "zone file %s: camera %s, %d zones", document.source, zones.camera_id, len(zones.zones)
    )
    return zones


@dataclass(frozen=True, slots=True)
class ZoneProblem:
    """One problem of a zone file and the shape it lies in, for an editor to show beside it.

    Attributes:
        message: The problem as ``civicwatch zones validate`` prints it (``file:line: ...``).
        line: Its 1-based line in the file.
        zone_index: The 0-based index of the zone at fault (``None``: the file as a whole).
        zone_id: That zone's id when it has a usable one.
        shape: The shape at fault inside the zone: ``polygon``, ``exclusions``,
            ``door_line`` or ``crossing_line`` (``None``: the zone's other fields).
        shape_index: The 0-based exclusion index (``exclusions`` only).
        point: The 0-based point of that shape, when one point is at fault.
        field: The zone's key at fault (``dwell_s``, ``shop``, ...; the shape's key too).
    """

    message: str
    line: int
    zone_index: int | None = None
    zone_id: str | None = None
    shape: str | None = None
    shape_index: int | None = None
    point: int | None = None
    field: str | None = None


@dataclass(frozen=True, slots=True)
class ZoneTextCheck:
    """The outcome of checking zone-file text: its zones, or every problem with its place."""

    zones: CameraZones | None
    problems: tuple[ZoneProblem, ...]


_SHAPES = frozenset({"polygon", "exclusions", "door_line", "crossing_line"})


def _locate(message: str, line: int, loc: Loc, data: dict[str, object]) -> ZoneProblem:
    """The problem ``message`` at ``loc`` (a resolved pydantic location), with its place."""
    index = _zone_index(loc)
    if index is None:
        return ZoneProblem(message=message, line=line)
    zones = data.get("zones")
    raw = zones[index] if isinstance(zones, list) and index < len(zones) else None
    zone_id = raw.get("id") if isinstance(raw, dict) else None
    rest = loc[2:]
    key = rest[0] if rest and isinstance(rest[0], str) else None
    shape = key if key in _SHAPES else None
    shape_index: int | None = None
    point: int | None = None
    tail = rest[1:]
    if shape == "exclusions" and tail and isinstance(tail[0], int):
        shape_index, tail = tail[0], tail[1:]
    if shape in ("door_line", "crossing_line") and tail and tail[0] == "points":
        tail = tail[1:]
    if shape is not None and tail and isinstance(tail[0], int):
        point = tail[0]
    return ZoneProblem(
        message=message,
        line=line,
        zone_index=index,
        zone_id=zone_id if isinstance(zone_id, str) else None,
        shape=shape,
        shape_index=shape_index,
        point=point,
        field=key,
    )


def _check_document(document: YamlDocument) -> tuple[CameraZones | None, list[ZoneProblem]]:
    """Validate a parsed zone file: its zones, or every problem in file order."""

    def label(loc: Loc) -> str | None:
        index = _zone_index(loc)
        return None if index is None else _zone_label(document.data, index)

    found = [
        ZoneProblem(message=document.render(p), line=p.line)
        for p in duplicate_keys(document, label)
    ]
    try:
        zones = CameraZones.model_validate(document.data)
    except ValidationError as exc:
        for error in exc.errors():
            problem = _describe(error, document)
            loc, _ = document.resolve(tuple(error["loc"]))
            found.append(_locate(document.render(problem), problem.line, loc, document.data))
        zones = None
    if found:
        return None, sorted(found, key=lambda p: p.line)
    return zones, []


def check_zone_text(text: str, *, source: Path) -> ZoneTextCheck:
    """Check zone-file content as ``civicwatch zones validate`` does, keeping each problem's
    zone, shape and point (the same messages, for an editor to show beside the shape).

    Args:
        text: YAML text of a zone file.
        source: Where the text came from, used only in messages.
    """
    try:
        document = parse_yaml(text, source=source, expected=_EXPECTED, error=ZoneFileError)
    except ZoneFileError as exc:
        return ZoneTextCheck(None, tuple(ZoneProblem(message=p, line=0) for p in exc.problems))
    zones, problems = _check_document(document)
    return ZoneTextCheck(zones, tuple(problems))


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
# Turning pydantic errors into one readable line each, in the words of zone files.

_PREDICATE_TYPES = frozenset(
    {"polygon_too_few_points", "polygon_invalid", "duplicate_object", "line_invalid"}
)
"""Custom errors phrased to follow their subject: ``polygon is self-intersecting (...)``."""


def _zone_index(loc: Loc) -> int | None:
    """The index of the zone that ``loc`` lies in, if it lies in one."""
    if len(loc) >= 2 and loc[0] == "zones" and isinstance(loc[1], int):
        return loc[1]
    return None


def _describe(error: ErrorDetails, document: YamlDocument) -> Problem:
    loc, line = document.resolve(tuple(error["loc"]))
    index = _zone_index(loc)
    if index is not None:
        label = _zone_label(document.data, index)
        return Problem(line, f"{label}: {_problem(error, loc, loc[2:])}")
    return Problem(line, _problem(error, loc, loc))


def _zone_label(data: dict[str, object], index: int) -> str:
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


def _problem(error: ErrorDetails, loc: Loc, rest: Loc) -> str:
    """One problem, ``rest`` being its location inside the zone (or the file) it is in."""
    kind = error["type"]
    msg = error["msg"]
    value = error.get("input")
    if kind == "extra_forbidden" and rest and isinstance(rest[-1], str):
        key = rest[-1]
        where = _where(rest[:-1])
        hint = did_you_mean(key, CameraZones, loc[:-1])
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
    if kind not in ZONE_ERROR_TYPES and value is not None and not isinstance(value, dict | list):
        msg = f"{msg} (got {value!r})"
    return f"{where}: {msg}" if where else msg


__all__ = [
    "MAX_POINTS",
    "CameraZones",
    "Coordinate",
    "CrossingLine",
    "Direction",
    "DoorLine",
    "LinePoints",
    "ObjectName",
    "Point",
    "Polygon",
    "ShopRef",
    "Side",
    "Zone",
    "ZoneFileCheck",
    "ZoneFileError",
    "ZoneKind",
    "ZoneProblem",
    "ZoneTextCheck",
    "check_zone_files",
    "check_zone_text",
    "load_zone_file",
    "parse_zone_text",
    "validate_zone_files",
]
