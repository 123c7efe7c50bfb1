"""Zone files: every validation failure, with its message, file, line and zone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from zones.config import (
    CameraZones,
    Zone,
    ZoneFileError,
    ZoneKind,
    check_zone_files,
    load_zone_file,
    parse_zone_text,
    validate_zone_files,
)
from zones.objects import KNOWN_OBJECTS

SOURCE = Path("configs/zones/cam1.yaml")
REPO = Path(__file__).resolve().parents[2]


def _zone(**overrides: Any) -> dict[str, Any]:
    zone: dict[str, Any] = {
        "id": "market-st",
        "name": "Market street pavement",
        "kind": "no_vending",
        "polygon": [[0.0, 0.5], [1.0, 0.5], [1.0, 1.0], [0.0, 1.0]],
        "objects": ["stall", "goods"],
    }
    zone.update(overrides)
    return zone


def _file(*zones: dict[str, Any], **top: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"camera_id": "cam1", "zones": list(zones) or [_zone()]}
    data.update(top)
    return data


def _problems(content: str | dict[str, Any]) -> list[str]:
    text = content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False)
    with pytest.raises(ZoneFileError) as info:
        parse_zone_text(text, source=SOURCE)
    assert info.value.path == SOURCE
    assert all(p.startswith(f"{SOURCE}") for p in info.value.problems)
    return info.value.problems


def _drop(key: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def apply(zone: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in zone.items() if k != key}

    return apply


SELF_INTERSECTING = [[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0]]

SHOP = {"id": "SH-0012", "name": "Li's Fruit"}
DOOR = {"points": [[0.1, 0.6], [0.9, 0.6]], "street_side": "below"}


def _shop(**overrides: Any) -> dict[str, Any]:
    """A valid shop_frontage zone (lower half of the frame, door line across it)."""
    return _zone(
        **{"id": "shop-12", "kind": "shop_frontage", "shop": SHOP, "door_line": DOOR, **overrides}
    )


def _extras(kind: ZoneKind) -> dict[str, Any]:
    return {"shop": SHOP, "door_line": DOOR} if kind is ZoneKind.SHOP_FRONTAGE else {}


# (case id, file content, substring expected in the single problem reported)
BAD_FILES: list[tuple[str, str | dict[str, Any], str]] = [
    ("empty file", "", "file is empty"),
    ("only a comment", "# nothing here\n", "file is empty"),
    (
        "not a mapping",
        "- camera_id: cam1\n",
        "expected a mapping with camera_id and zones, got list",
    ),
    ("scalar", "hello\n", "expected a mapping with camera_id and zones, got str"),
    ("broken yaml", "camera_id: [cam1\n", "not valid YAML"),
    (
        "two documents",
        "camera_id: a\n---\ncamera_id: b\n",
        "cam1.yaml:2: not valid YAML: expected a single document in the stream",
    ),
    ("missing camera id", {"zones": [_zone()]}, "missing key 'camera_id'"),
    ("bad camera id", _file(camera_id="cam 1"), "camera_id: String should match pattern"),
    ("unknown top key", _file(colour="red"), ": unknown key 'colour'"),
    ("top key typo", _file(zone=[]), "unknown key 'zone'; did you mean 'zones'?"),
    ("zones not a list", _file(zones={"a": 1}), "zones: Input should be a valid list"),
    (
        "unknown zone key",
        _file(_zone(dwel_s=3)),
        "zone 'market-st': unknown key 'dwel_s'; did you mean 'dwell_s'?",
    ),
    ("missing id", _file(_drop("id")(_zone())), "zone #1: missing key 'id'"),
    (
        "missing polygon",
        _file(_drop("polygon")(_zone())),
        "zone 'market-st': missing key 'polygon'",
    ),
    ("bad id", _file(_zone(id="market st")), "zone 'market st': id: String should match pattern"),
    ("empty name", _file(_zone(name="")), "name: String should have at least 1 character"),
    ("unknown kind", _file(_zone(kind="parking")), "kind: Input should be 'no_vending'"),
    (
        "no points",
        _file(_zone(polygon=[])),
        "zone 'market-st': polygon has 0 point(s); a polygon needs at least 3",
    ),
    (
        "two points",
        _file(_zone(polygon=[[0, 0], [1, 1]])),
        "zone 'market-st': polygon has 2 point(s); a polygon needs at least 3",
    ),
    (
        "self-intersecting",
        _file(_zone(polygon=SELF_INTERSECTING)),
        "zone 'market-st': polygon is self-intersecting (Self-intersection[0.5 0.5])",
    ),
    (
        "collinear",
        _file(_zone(polygon=[[0, 0], [0.5, 0.5], [1, 1]])),
        "zone 'market-st': polygon is self-intersecting",
    ),
    (
        "x above 1",
        _file(_zone(polygon=[[0, 0.5], [1.2, 0.5], [1, 1]])),
        "zone 'market-st': polygon point 2 x = 1.2 is outside 0..1",
    ),
    (
        "y below 0",
        _file(_zone(polygon=[[0, -0.1], [1, 0.5], [1, 1]])),
        "zone 'market-st': polygon point 1 y = -0.1 is outside 0..1",
    ),
    (
        "nan coordinate",
        "camera_id: cam1\nzones:\n  - id: z\n    name: z\n    kind: road\n"
        "    polygon: [[.nan, 0], [1, 0], [1, 1]]\n    objects: [truck]\n",
        "zone 'z': polygon point 1 x: Input should be a finite number",
    ),
    (
        "three numbers in a point",
        _file(_zone(polygon=[[0, 0, 0], [1, 0], [1, 1]])),
        "zone 'market-st': polygon point 1",
    ),
    ("point not a list", _file(_zone(polygon=["a", [1, 0], [1, 1]])), "polygon point 1"),
    (
        "unknown object",
        _file(_zone(objects=["stall", "stal"])),
        "zone 'market-st': objects item 2: unknown object 'stal' "
        f"(known: {', '.join(KNOWN_OBJECTS)}); did you mean 'stall'?",
    ),
    ("no objects", _file(_zone(objects=[])), "objects: List should have at least 1 item"),
    (
        "object twice",
        _file(_zone(objects=["stall", "stall"])),
        "objects lists 'stall' more than once",
    ),
    (
        "exclusion too small",
        _file(_zone(exclusions=[[[0, 0.5], [0.1, 0.5]]])),
        "zone 'market-st': exclusion 1 has 2 point(s); a polygon needs at least 3",
    ),
    (
        "exclusion self-intersecting",
        _file(_zone(exclusions=[[[0, 0.5], [0.1, 0.6]], SELF_INTERSECTING][1:])),
        "zone 'market-st': exclusion 1 is self-intersecting (Self-intersection[0.5 0.5])",
    ),
    (
        "exclusion point outside",
        _file(_zone(exclusions=[[[0, 0.5], [0.1, 0.5], [0.1, 1.5]]])),
        "zone 'market-st': exclusion 1 point 3 y = 1.5 is outside 0..1",
    ),
    (
        "min box too large",
        _file(_zone(min_box_wh=[0.1, 2.0])),
        "zone 'market-st': min_box_wh h = 2.0 is outside 0..1",
    ),
    ("min box one number", _file(_zone(min_box_wh=[0.1])), "min_box_wh"),
    (
        "negative dwell",
        _file(_zone(dwell_s=-1)),
        "dwell_s: Input should be greater than or equal to 0",
    ),
    ("dwell not a number", _file(_zone(dwell_s="long")), "dwell_s: Input should be a valid number"),
    (
        "zero inertia",
        _file(_zone(inertia=0)),
        "inertia: Input should be greater than or equal to 1",
    ),
    (
        "legal hours malformed",
        _file(_zone(legal_hours=["6-9"])),
        "legal_hours item 1: time window '6-9' is not 'HH:MM-HH:MM'",
    ),
    ("legal hours 25:00", _file(_zone(legal_hours=["25:00-26:00"])), "is not 'HH:MM-HH:MM'"),
    ("legal hours minute 60", _file(_zone(legal_hours=["06:60-07:00"])), "is not 'HH:MM-HH:MM'"),
    ("legal hours empty", _file(_zone(legal_hours=["07:00-07:00"])), "is empty"),
    (
        "legal hours unquoted",
        "camera_id: cam1\nzones:\n  - id: z\n    name: z\n    kind: road\n"
        "    polygon: [[0, 0], [1, 0], [1, 1]]\n    objects: [truck]\n    legal_hours: [18:00]\n",
        "got 1080; quote it, YAML reads unquoted HH:MM as a number",
    ),
    (
        "duplicate zone ids",
        _file(_zone(), _zone(name="other")),
        "zone 'market-st' (#2): duplicate zone id 'market-st': id is also used by zone #1",
    ),
    (
        "duplicate yaml key",
        "camera_id: cam1\nzones:\n  - id: z\n    name: z\n    kind: road\n"
        "    polygon: [[0, 0], [1, 0], [1, 1]]\n    objects: [truck]\n    inertia: 2\n"
        "    inertia: 3\n",
        "cam1.yaml:9: zone 'z': duplicate key 'inertia' (first on line 8)",
    ),
    (
        "shop frontage without door line and shop",
        _file(_zone(kind="shop_frontage")),
        "zone 'market-st': a shop_frontage zone needs 'shop' and 'door_line'",
    ),
    (
        "shop frontage without shop",
        _file(_drop("shop")(_shop())),
        "zone 'shop-12': a shop_frontage zone needs 'shop'",
    ),
    (
        "door line outside its zone",
        _file(_shop(door_line={"points": [[0.1, 0.6], [0.9, 0.3]], "street_side": "below"})),
        "zone 'shop-12': door_line: door_line point 2 [0.9, 0.3] lies outside the zone's "
        "polygon; draw the line inside the zone",
    ),
    (
        "door line of two equal points",
        _file(_shop(door_line={"points": [[0.5, 0.6], [0.5, 0.6]], "street_side": "below"})),
        "zone 'shop-12': door_line points has two equal points",
    ),
    (
        "door line coordinate outside 0..1",
        _file(_shop(door_line={"points": [[0.5, 0.6], [1.5, 0.6]], "street_side": "below"})),
        "zone 'shop-12': door_line points point 2 x = 1.5 is outside 0..1",
    ),
    (
        "street side that does not fit the line",
        _file(_shop(door_line={"points": [[0.1, 0.6], [0.9, 0.6]], "street_side": "left"})),
        "street_side 'left' needs a line within 60 degrees of vertical; this one is flatter, "
        "say 'above' or 'below'",
    ),
    (
        "unknown street side",
        _file(_shop(door_line={"points": [[0.1, 0.6], [0.9, 0.6]], "street_side": "north"})),
        "door_line street_side: Input should be 'above', 'below', 'left' or 'right'",
    ),
    (
        "bad shop id",
        _file(_shop(shop={"id": "shop 12", "name": "x"})),
        "shop id: String should match pattern",
    ),
    (
        "door line on a no_vending zone",
        _file(_zone(door_line=DOOR)),
        "zone 'market-st': door_line: only shop_frontage zones have a door_line; this zone is "
        "no_vending",
    ),
    (
        "business hours on a road",
        _file(_zone(kind="road", objects=["truck"], business_hours=["08:00-20:00"])),
        "business_hours: only shop_frontage zones have a business_hours",
    ),
    (
        "business hours that do not parse",
        _file(_shop(business_hours=["8-20"])),
        "zone 'shop-12': business_hours item 1: time window '8-20' is not 'HH:MM-HH:MM'",
    ),
    (
        "site id on a shop frontage",
        _file(_shop(site_id="site-7")),
        "site_id: only construction_site zones have a site_id; this zone is shop_frontage",
    ),
    (
        "crossing line on a construction site",
        _file(
            _zone(
                kind="construction_site",
                objects=["bare_soil"],
                crossing_line={"points": [[0.1, 0.6], [0.9, 0.6]]},
            )
        ),
        "crossing_line: only road zones have a crossing_line",
    ),
    (
        "crossing direction that does not fit the line",
        _file(
            _zone(
                kind="road",
                objects=["truck"],
                crossing_line={"points": [[0.5, 0.55], [0.5, 0.95]], "direction": "downward"},
            )
        ),
        "direction 'downward' needs a line within 60 degrees of horizontal; this one is steeper, "
        "say 'leftward' or 'rightward'",
    ),
    (
        "crossing line outside the road",
        _file(
            _zone(
                kind="road", objects=["truck"], crossing_line={"points": [[0.1, 0.1], [0.9, 0.9]]}
            )
        ),
        "crossing_line point 1 [0.1, 0.1] lies outside the zone's polygon",
    ),
]


@pytest.mark.parametrize(
    ("content", "expected"), [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES]
)
def test_bad_file_is_refused_with_one_clear_problem(
    content: str | dict[str, Any], expected: str
) -> None:
    problems = _problems(content)
    assert len(problems) == 1, problems
    assert expected in problems[0]


def test_door_line_key_typo_names_both_problems() -> None:
    data = _file(_shop(door_line={"point": [[0.1, 0.6], [0.9, 0.6]], "street_side": "below"}))
    problems = _problems(data)
    assert [p.split(": ", 1)[1] for p in problems] == [
        "zone 'shop-12': door_line: missing key 'points'",
        "zone 'shop-12': door_line: unknown key 'point'; did you mean 'points'?",
    ]


def test_message_names_file_line_zone_and_problem() -> None:
    text = (
        "camera_id: cam1\n"
        "zones:\n"
        "  - id: market-st\n"
        "    name: Market street\n"
        "    kind: no_vending\n"
        "    polygon: [[0, 0], [1, 1], [1, 0], [0, 1]]\n"
        "    objects: [stall]\n"
    )
    assert _problems(text) == [
        "configs/zones/cam1.yaml:6: zone 'market-st': polygon is self-intersecting "
        "(Self-intersection[0.5 0.5])"
    ]


def test_all_problems_are_collected_in_file_order() -> None:
    data = _file(
        _zone(polygon=SELF_INTERSECTING, objects=["stal"], dwell_s=-3),
        _zone(id="b", kind="parking", polygon=[[0, 0], [1.5, 0], [1, 1]]),
        _zone(name="duplicate id"),
        colour="red",
    )
    problems = _problems(data)
    assert len(problems) == 7, problems
    expected = [
        "zone 'market-st' (#1): polygon is self-intersecting",
        "zone 'market-st' (#1): objects item 1: unknown object 'stal'",
        "zone 'market-st' (#1): dwell_s",
        "zone 'b': kind",
        "zone 'b': polygon point 2 x = 1.5 is outside 0..1",
        "zone 'market-st' (#3): duplicate zone id 'market-st'",
        "unknown key 'colour'",
    ]
    for want, got in zip(expected, problems, strict=True):
        assert want in got
    lines = [int(p.split(":")[1]) for p in problems]
    assert lines == sorted(lines)


def test_error_str_lists_every_problem() -> None:
    with pytest.raises(ZoneFileError) as info:
        parse_zone_text(yaml.safe_dump(_file(_zone(objects=[]), colour=1)), source=SOURCE)
    text = str(info.value)
    assert text.splitlines()[0] == f"{SOURCE}: 2 problems"
    assert all(p in text for p in info.value.problems)


# (case id, file content, check on the loaded zones)
GOOD_FILES: list[tuple[str, dict[str, Any], Callable[[CameraZones], bool]]] = [
    (
        "minimal zone gets defaults",
        _file(),
        lambda z: z.zones[0].inertia == 3 and z.zones[0].dwell_s == 60,
    ),
    ("no zones", _file(zones=[]), lambda z: z.zones == []),
    (
        "every field",
        _file(
            _zone(
                min_box_wh=[0.02, 0.03],
                exclusions=[[[0.8, 0.5], [1.0, 0.5], [1.0, 0.7]]],
                dwell_s=0,
                inertia=1,
                legal_hours=["06:00-09:00", "22:00-02:00", "18:00-24:00"],
            )
        ),
        lambda z: (
            [str(w) for w in z.zones[0].legal_hours]
            == ["06:00-09:00", "22:00-02:00", "18:00-24:00"]
            and z.zones[0].min_box_wh == (0.02, 0.03)
        ),
    ),
    (
        "all kinds, integer coordinates",
        _file(
            *[
                _zone(
                    id=k.value,
                    kind=k.value,
                    polygon=[[0, 0], [1, 0], [1, 1], [0, 1]],
                    **_extras(k),
                )
                for k in ZoneKind
            ]
        ),
        lambda z: [zone.kind for zone in z.zones] == list(ZoneKind),
    ),
    (
        "shop frontage with every key",
        _file(_shop(business_hours=["08:00-22:00"])),
        lambda z: (
            z.zones[0].shop is not None
            and z.zones[0].shop.name == "Li's Fruit"
            and z.zones[0].door_line is not None
            and z.zones[0].door_line.street_side == "below"
            and [str(w) for w in z.zones[0].business_hours] == ["08:00-22:00"]
        ),
    ),
    (
        "door line on the zone's edge",
        _file(_shop(door_line={"points": [[0.0, 0.5], [1.0, 0.5]], "street_side": "below"})),
        lambda z: z.zones[0].door_line is not None,
    ),
    (
        "road with a crossing line and a site with sensors",
        _file(
            _zone(
                id="road",
                kind="road",
                objects=["truck"],
                crossing_line={"points": [[0.5, 0.55], [0.5, 0.95]], "direction": "rightward"},
            ),
            _zone(
                id="site",
                kind="construction_site",
                objects=["bare_soil", "dust_net"],
                site_id="site-7",
            ),
        ),
        lambda z: (
            z.zones[0].crossing_line is not None
            and z.zones[0].crossing_line.to_side == "right"
            and z.zones[1].site_id == "site-7"
        ),
    ),
]


@pytest.mark.parametrize(
    ("data", "check"), [c[1:] for c in GOOD_FILES], ids=[c[0] for c in GOOD_FILES]
)
def test_good_file_loads(data: dict[str, Any], check: Callable[[CameraZones], bool]) -> None:
    zones = parse_zone_text(yaml.safe_dump(data), source=SOURCE)
    assert check(zones)
    # A loaded file survives a round trip through its own dump.
    assert CameraZones.model_validate(zones.model_dump()) == zones


def test_models_refuse_bad_values_without_a_file() -> None:
    with pytest.raises(ValueError, match="also used by zone #1"):
        CameraZones(camera_id="c", zones=[Zone(**_zone()), Zone(**_zone())])
    with pytest.raises(ValueError, match="self-intersecting"):
        Zone(**_zone(polygon=SELF_INTERSECTING))


def test_zone_lookup() -> None:
    zones = CameraZones.model_validate(_file(_zone(), _zone(id="b")))
    assert zones.zone("b").id == "b"
    with pytest.raises(KeyError, match="no zone 'c'"):
        zones.zone("c")


def test_load_zone_file_reads_and_reports_unreadable(tmp_path: Path) -> None:
    good = tmp_path / "cam1.yaml"
    good.write_text(yaml.safe_dump(_file()), encoding="utf-8")
    assert load_zone_file(good).camera_id == "cam1"
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ZoneFileError, match=r"nope\.yaml: cannot read"):
        load_zone_file(missing)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ZoneFileError, match=r"bin\.yaml: cannot read"):
        load_zone_file(binary)


def test_validate_zone_files_collects_across_files(tmp_path: Path) -> None:
    a = tmp_path / "a.yaml"
    b = tmp_path / "b.yaml"
    c = tmp_path / "c.yaml"
    a.write_text(yaml.safe_dump(_file()), encoding="utf-8")
    b.write_text(yaml.safe_dump(_file(_zone(objects=["x"]))), encoding="utf-8")
    c.write_text(yaml.safe_dump(_file()), encoding="utf-8")  # same camera as a
    assert validate_zone_files([]) == []
    assert validate_zone_files([a]) == []
    problems = validate_zone_files([a, b, c])
    assert len(problems) == 2
    assert problems[0].startswith(f"{b}:") and "unknown object 'x'" in problems[0]
    assert problems[1] == f"{c}: camera_id 'cam1' is also used by {a}"
    checks = check_zone_files([a, b])
    assert checks[0].zones is not None and checks[0].problems == ()
    assert checks[1].zones is None and len(checks[1].problems) == 1


def test_example_zone_files_are_valid() -> None:
    files = sorted((REPO / "configs" / "zones").glob("*.yaml"))
    assert files, "configs/zones/ has no example zone file"
    assert validate_zone_files(files) == []
    demo = load_zone_file(REPO / "configs" / "zones" / "demo-cam.yaml")
    assert demo.camera_id == "demo-cam"
    assert any(z.kind is ZoneKind.NO_VENDING for z in demo.zones)
