"""The units file: the tree of units (市 → 区 → 街镇 → teams) and the cameras of each 街镇.

Written as a nested tree, each unit listing its ``children`` and a street-level unit its
``cameras``; a unit's parent is the unit it is written under. Read through
:mod:`contracts.yamlconfig`, so every problem is reported as ``file:line: message``, and
checked as a tree: unique ids, each level under the level above (a team under a 街镇), cameras
only under a 街镇 and each camera once. An outline is a GeoJSON Polygon or MultiPolygon
(lon/lat), inline or in a file next to the units file (``outline_file``).

Example:
    >>> tree = load_units_file(Path("configs/units.yaml"))  # doctest: +SKIP
    >>> [unit.id for unit in tree.units][:2]
    ['sh', 'sh-huangpu']
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from shapely.errors import GEOSException
from shapely.geometry import shape

from contracts.ids import Identifier
from contracts.yamlconfig import (
    ConfigError,
    Loc,
    Problem,
    YamlDocument,
    read_yaml,
    validate_document,
)
from server.org.tables import PARENT_LEVEL, UnitLevel

_NAME = Annotated[str, Field(min_length=1, max_length=128)]


class CameraEntry(BaseModel):
    """A camera of a 街镇: which edge and camera id its events carry, and where it stands."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    edge_id: Identifier
    """The edge the camera is attached to (the events' edge_id)."""
    camera_id: Identifier
    """The camera id within that edge (the events' camera_id)."""
    name: _NAME
    """What people call the place (南京东路步行街口)."""
    lat: Annotated[float | None, Field(ge=-90, le=90)] = None
    """Latitude, WGS84 degrees (null: not on the map)."""
    lon: Annotated[float | None, Field(ge=-180, le=180)] = None
    """Longitude, WGS84 degrees."""
    enabled: bool = True
    """A disabled camera keeps its unit; the registry shows it as off."""


class UnitEntry(BaseModel):
    """One unit and what lies under it."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    id: Identifier
    """Stable id, e.g. sh-huangpu-nanjingdong."""
    name: _NAME
    """The Chinese name (南京东路街道)."""
    name_en: _NAME
    """The English name (Nanjing East Road Subdistrict)."""
    level: UnitLevel
    """city, district, street (街镇) or team; each under the level above."""
    outline: dict[str, Any] | None = None
    """The area as a GeoJSON Polygon or MultiPolygon geometry (lon/lat)."""
    outline_file: Annotated[str | None, Field(min_length=1, max_length=512)] = None
    """A GeoJSON file (geometry, Feature or one-feature FeatureCollection), relative to this
    file; instead of outline.
    """
    sort_order: Annotated[int, Field(ge=0, le=1_000_000)] = 0
    """Position among its siblings (then by id)."""
    cameras: list[CameraEntry] = Field(default_factory=list)
    """Cameras of a street-level unit."""
    children: list[UnitEntry] = Field(default_factory=list)
    """Units directly under this one."""


class UnitsFile(BaseModel):
    """The whole units file: one tree (its root a city) or several."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    units: Annotated[list[UnitEntry], Field(min_length=1)]
    """The top units (cities)."""


@dataclass(frozen=True, slots=True)
class UnitSpec:
    """One unit, flattened out of the tree with its parent."""

    id: str
    name: str
    name_en: str
    level: UnitLevel
    parent_id: str | None
    outline: dict[str, Any] | None
    sort_order: int


@dataclass(frozen=True, slots=True)
class CameraSpec:
    """One registered camera with its 街镇."""

    edge_id: str
    camera_id: str
    name: str
    unit_id: str
    lat: float | None
    lon: float | None
    enabled: bool


@dataclass(frozen=True, slots=True)
class UnitsTree:
    """A checked units file: units parents first, and the cameras."""

    units: list[UnitSpec]
    cameras: list[CameraSpec]


def outline_problem(geometry: object) -> str | None:
    """Why ``geometry`` is not a usable outline (a valid GeoJSON Polygon or MultiPolygon)."""
    if not isinstance(geometry, dict):
        return "outline must be a GeoJSON geometry object"
    kind = geometry.get("type")
    if kind not in ("Polygon", "MultiPolygon"):
        return f"outline must be a GeoJSON Polygon or MultiPolygon, not {kind!r}"
    try:
        parsed = shape(geometry)
    except (GEOSException, ValueError, TypeError, IndexError, KeyError, AttributeError) as exc:
        return f"outline is not valid GeoJSON: {type(exc).__name__}"
    if parsed.is_empty or not parsed.is_valid:
        return "outline is empty or self-intersecting"
    minx, miny, maxx, maxy = parsed.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        return "outline coordinates must be lon/lat degrees"
    return None


def _geometry_of(document: object) -> object:
    """The geometry of a GeoJSON geometry, Feature or one-feature FeatureCollection."""
    if isinstance(document, dict) and document.get("type") == "FeatureCollection":
        features = document.get("features")
        if isinstance(features, list) and len(features) == 1:
            document = features[0]
    if isinstance(document, dict) and document.get("type") == "Feature":
        return document.get("geometry")
    return document


def _read_outline_file(base: Path, name: str) -> tuple[dict[str, Any] | None, str | None]:
    path = (base / name).resolve()
    try:
        geometry = _geometry_of(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return None, f"outline_file {name!r}: cannot read: {type(exc).__name__}: {exc}"
    problem = outline_problem(geometry)
    if problem is not None:
        return None, f"outline_file {name!r}: {problem}"
    assert isinstance(geometry, dict)
    return geometry, None


def check_tree(parsed: UnitsFile, document: YamlDocument) -> UnitsTree:
    """Flatten the tree and check it as a tree.

    Raises:
        ConfigError: Every problem, each at its line.
    """
    problems: list[Problem] = []
    units: list[UnitSpec] = []
    cameras: list[CameraSpec] = []
    seen_units: set[str] = set()
    seen_cameras: set[tuple[str, str]] = set()
    base = document.source.parent

    def problem(loc: Loc, message: str) -> None:
        problems.append(Problem(document.line_of(loc), message))

    def walk(entry: UnitEntry, parent: UnitEntry | None, loc: Loc) -> None:
        if entry.id in seen_units:
            problem((*loc, "id"), f"unit id {entry.id!r} is given twice")
        seen_units.add(entry.id)
        wanted = PARENT_LEVEL[entry.level]
        have = parent.level if parent is not None else None
        if wanted != have:
            where = f"under a {have.value}" if have is not None else "at the top"
            need = f"under a {wanted.value}" if wanted is not None else "at the top"
            problem((*loc, "level"), f"a {entry.level.value} unit must be {need}, not {where}")
        if entry.cameras and entry.level is not UnitLevel.STREET:
            problem((*loc, "cameras"), "only a street-level (街镇) unit has cameras")
        outline = entry.outline
        if entry.outline is not None and entry.outline_file is not None:
            problem((*loc, "outline_file"), "give outline or outline_file, not both")
        elif entry.outline is not None:
            message = outline_problem(entry.outline)
            if message is not None:
                problem((*loc, "outline"), message)
        elif entry.outline_file is not None:
            outline, message = _read_outline_file(base, entry.outline_file)
            if message is not None:
                problem((*loc, "outline_file"), message)
        units.append(
            UnitSpec(
                id=entry.id,
                name=entry.name,
                name_en=entry.name_en,
                level=entry.level,
                parent_id=parent.id if parent is not None else None,
                outline=outline,
                sort_order=entry.sort_order,
            )
        )
        for index, camera in enumerate(entry.cameras):
            key = (camera.edge_id, camera.camera_id)
            if key in seen_cameras:
                problem(
                    (*loc, "cameras", index),
                    f"camera {camera.edge_id}/{camera.camera_id} is listed twice",
                )
            seen_cameras.add(key)
            cameras.append(
                CameraSpec(
                    edge_id=camera.edge_id,
                    camera_id=camera.camera_id,
                    name=camera.name,
                    unit_id=entry.id,
                    lat=camera.lat,
                    lon=camera.lon,
                    enabled=camera.enabled,
                )
            )
        for index, child in enumerate(entry.children):
            walk(child, entry, (*loc, "children", index))

    for index, top in enumerate(parsed.units):
        walk(top, None, ("units", index))
    if problems:
        problems.sort(key=lambda item: item.line)
        raise ConfigError(document.source, [document.render(item) for item in problems])
    return UnitsTree(units=units, cameras=cameras)


def load_units_file(path: Path) -> UnitsTree:
    """Read, validate and check a units file.

    Raises:
        ConfigError: The file cannot be read or is wrong; every problem as ``file:line: ...``.
    """
    document = read_yaml(path, expected="a mapping with 'units'")
    return check_tree(validate_document(document, UnitsFile), document)
