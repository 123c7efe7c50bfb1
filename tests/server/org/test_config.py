"""The units file: the shipped example, and every kind of mistake reported at its line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contracts.yamlconfig import ConfigError
from server.org.config import load_units_file, outline_problem
from server.org.tables import UnitLevel

REPO = Path(__file__).resolve().parents[3]
SQUARE = {
    "type": "Polygon",
    "coordinates": [[[121.0, 31.0], [121.1, 31.0], [121.1, 31.1], [121.0, 31.0]]],
}


def test_the_shipped_units_file_loads() -> None:
    tree = load_units_file(REPO / "configs" / "units.yaml")
    levels = [unit.level for unit in tree.units]
    assert levels.count(UnitLevel.CITY) == 1
    assert levels.count(UnitLevel.DISTRICT) == 2
    assert levels.count(UnitLevel.STREET) == 3
    assert levels.count(UnitLevel.TEAM) == 3
    assert {(c.edge_id, c.camera_id, c.unit_id) for c in tree.cameras} >= {
        ("demo-edge", "demo-cam", "sh-huangpu-nanjingdong")
    }
    by_id = {unit.id: unit for unit in tree.units}
    assert by_id["sh-huangpu-nanjingdong-team1"].parent_id == "sh-huangpu-nanjingdong"
    assert all(unit.outline is not None for unit in tree.units if unit.level is not UnitLevel.TEAM)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "units.yaml"
    path.write_text(text, encoding="utf-8")
    return path


CITY = """\
units:
  - id: c
    name: 市
    name_en: City
    level: city
    children:
"""


@pytest.mark.parametrize(
    ("children", "messages"),
    [
        (
            "      - {id: t, name: 队, name_en: T, level: team}\n",
            [":7: a team unit must be under a street, not under a city"],
        ),
        (
            "      - id: d\n        name: 区\n        name_en: D\n        level: district\n"
            "        cameras: [{edge_id: e, camera_id: k, name: 摄像头}]\n",
            [":11: only a street-level (街镇) unit has cameras"],
        ),
        (
            "      - {id: c, name: 区, name_en: D, level: district}\n",
            [":7: unit id 'c' is given twice"],
        ),
        (
            "      - id: d\n        name: 区\n        name_en: D\n        level: district\n"
            "        children:\n"
            "          - id: s\n            name: 街\n            name_en: S\n"
            "            level: street\n            cameras:\n"
            "              - {edge_id: e, camera_id: k, name: 一}\n"
            "              - {edge_id: e, camera_id: k, name: 二}\n",
            [":18: camera e/k is listed twice"],
        ),
        (
            "      - id: d\n        name: 区\n        name_en: D\n        level: district\n"
            "        outline: {type: Point, coordinates: [121.0, 31.0]}\n",
            [":11: outline must be a GeoJSON Polygon or MultiPolygon, not 'Point'"],
        ),
        (
            "      - {id: d, name: 区, name_en: D, level: district, outline_file: nope.geojson}\n",
            [":7: outline_file 'nope.geojson': cannot read: FileNotFoundError"],
        ),
        (
            "      - {id: 'bad id', name: 区, name_en: D, level: district}\n",
            [":7: units[0].children[0].id: String should match pattern"],
        ),
        (
            "      - {id: d, name: 区, name_en: D, level: district, colour: red}\n",
            [":7: units[0].children[0]: unknown key 'colour'"],
        ),
    ],
    ids=[
        "team-under-city",
        "cameras-off-street",
        "dup-unit",
        "dup-camera",
        "point",
        "no-file",
        "bad-id",
        "unknown-key",
    ],
)
def test_mistakes_are_reported_at_their_line(
    tmp_path: Path, children: str, messages: list[str]
) -> None:
    path = _write(tmp_path, CITY + children)
    with pytest.raises(ConfigError) as caught:
        load_units_file(path)
    for message in messages:
        assert any(message in problem for problem in caught.value.problems), caught.value.problems
    assert all(problem.startswith(str(path)) for problem in caught.value.problems)


def test_a_district_at_the_top_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "units:\n  - {id: d, name: 区, name_en: D, level: district}\n")
    with pytest.raises(ConfigError, match=":2: a district unit must be under a city"):
        load_units_file(path)


def test_an_empty_list_of_units_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="units"):
        load_units_file(_write(tmp_path, "units: []\n"))


def test_an_outline_file_next_to_the_units_file(tmp_path: Path) -> None:
    feature = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {}, "geometry": SQUARE}],
    }
    (tmp_path / "geo").mkdir()
    (tmp_path / "geo" / "d.geojson").write_text(json.dumps(feature), encoding="utf-8")
    tree = load_units_file(
        _write(
            tmp_path,
            CITY + "      - {id: d, name: 区, name_en: D, level: district, "
            "outline_file: geo/d.geojson}\n",
        )
    )
    assert tree.units[1].outline == SQUARE


@pytest.mark.parametrize(
    ("geometry", "problem"),
    [
        (SQUARE, None),
        ({"type": "MultiPolygon", "coordinates": [SQUARE["coordinates"]]}, None),
        ({"type": "Polygon", "coordinates": []}, "empty"),
        (
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
            "self-intersecting",
        ),
        ({"type": "Polygon", "coordinates": [[[500, 0], [501, 0], [501, 1], [500, 0]]]}, "lon/lat"),
        ({"type": "Polygon", "coordinates": "nope"}, "not valid GeoJSON"),
        ("Polygon", "geometry object"),
    ],
)
def test_outline_problems(geometry: object, problem: str | None) -> None:
    found = outline_problem(geometry)
    assert (found is None) if problem is None else (found is not None and problem in found)
