"""check_zone_text: the same problems as the CLI, each with its zone, shape and point."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from zones.config import ZoneFileError, check_zone_text, parse_zone_text

SOURCE = Path("cam1.yaml")
ZONE: dict[str, Any] = {
    "id": "z1",
    "name": "Z",
    "kind": "road",
    "polygon": [[0.0, 0.5], [1.0, 0.5], [1.0, 1.0], [0.0, 1.0]],
    "objects": ["truck"],
}


def _check(*zones: dict[str, Any]) -> list[tuple[str | None, str | None, int | None]]:
    text = yaml.safe_dump({"camera_id": "cam1", "zones": list(zones)}, sort_keys=False)
    checked = check_zone_text(text, source=SOURCE)
    try:
        parse_zone_text(text, source=SOURCE)
    except ZoneFileError as exc:
        assert [p.message for p in checked.problems] == exc.problems  # the CLI's words
    else:
        assert checked.problems == ()
    return [(p.zone_id, p.shape, p.point) for p in checked.problems]


def test_a_valid_file_has_no_problems_and_its_zones() -> None:
    text = yaml.safe_dump({"camera_id": "cam1", "zones": [ZONE]})
    checked = check_zone_text(text, source=SOURCE)
    assert checked.zones is not None
    assert checked.problems == ()


def test_places_of_problems() -> None:
    assert _check({**ZONE, "polygon": [[0, 0], [1, 1], [1, 0], [0, 1]]}) == [
        ("z1", "polygon", None)
    ]
    assert _check({**ZONE, "polygon": [[0, 0.5], [1.2, 0.5], [1, 1]]}) == [("z1", "polygon", 1)]
    line = {"points": [[0.1, 0.1], [0.9, 0.1]], "direction": "any"}
    assert _check({**ZONE, "crossing_line": line}) == [("z1", "crossing_line", None)]
    assert _check({**ZONE, "dwell_s": -1.0}) == [("z1", None, None)]
    assert _check(ZONE, {**ZONE, "id": "z2", "exclusions": [[[0, 0], [1, 1]]]}) == [
        ("z2", "exclusions", None)
    ]


def test_yaml_errors_have_no_zone() -> None:
    checked = check_zone_text("zones: [\n", source=SOURCE)
    assert checked.zones is None
    assert checked.problems[0].zone_index is None
    assert "not valid YAML" in checked.problems[0].message
