"""ZoneGeometry on plain arrays: anchor in / out / excluded, minimum size, class, empty."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from zones.config import Zone
from zones.geometry import ZoneGeometry, bottom_center

NAMES = ("person", "stall", "goods")
RES = (1000, 500)


def _zone(**overrides: Any) -> Zone:
    data: dict[str, Any] = {
        "id": "z",
        "name": "z",
        "kind": "no_vending",
        # lower half of the frame: y from 250 px to 500 px
        "polygon": [(0.0, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0)],
        "objects": ["stall", "goods"],
        "min_box_wh": (0.02, 0.04),  # 20 x 20 px
        "exclusions": [[(0.8, 0.5), (1.0, 0.5), (1.0, 1.0), (0.8, 1.0)]],  # x >= 800 px
    }
    data.update(overrides)
    return Zone(**data)


class _Boxes:
    """Boxes with their class ids, as the edge hands them to the geometry."""

    def __init__(
        self, *rows: tuple[str, float, float, float, float], names: tuple[str, ...] = NAMES
    ) -> None:
        self.xyxy = np.array([r[1:] for r in rows], dtype=np.float32).reshape(-1, 4)
        self.class_id = np.array([names.index(r[0]) for r in rows], dtype=np.int64)
        self.names: tuple[str, ...] = names

    def trigger(self, geometry: ZoneGeometry) -> npt.NDArray[np.bool_]:
        return geometry.trigger(self.xyxy, self.class_id, self.names)


# (case id, detection: (class, x1, y1, x2, y2), triggers)
CASES = [
    ("anchor inside", ("stall", 100, 250, 200, 400), True),
    ("box above, anchor inside", ("stall", 100, 100, 200, 260), True),
    ("anchor above the zone", ("stall", 100, 100, 200, 240), False),
    ("anchor on the frame bottom edge", ("stall", 100, 400, 200, 500), True),
    ("anchor on the zone top edge", ("stall", 100, 200, 200, 250), True),
    ("anchor on the left frame edge", ("stall", -50, 300, 50, 400), True),
    ("anchor in exclusion", ("stall", 820, 300, 900, 400), False),
    ("box overlapping exclusion, anchor outside it", ("stall", 700, 300, 880, 400), True),
    ("too narrow", ("stall", 100, 300, 119, 400), False),
    ("too short", ("stall", 100, 381, 200, 400), False),
    ("exactly minimum size", ("stall", 100, 380, 120, 400), True),
    ("other wanted class", ("goods", 100, 300, 200, 400), True),
    ("class the zone ignores", ("person", 100, 300, 200, 400), False),
    ("anchor outside the frame", ("stall", 100, 400, 200, 520), False),
]


@pytest.mark.parametrize(("row", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_trigger_single(row: tuple[str, float, float, float, float], expected: bool) -> None:
    mask = _Boxes(row).trigger(ZoneGeometry(_zone(), RES))
    assert mask.dtype == np.bool_
    assert mask.tolist() == [expected]


def test_trigger_many_at_once_keeps_order() -> None:
    rows = [c[1] for c in CASES]
    mask = _Boxes(*rows).trigger(ZoneGeometry(_zone(), RES))
    assert mask.tolist() == [c[2] for c in CASES]


def test_trigger_empty() -> None:
    mask = _Boxes().trigger(ZoneGeometry(_zone(), RES))
    assert mask.shape == (0,) and mask.dtype == np.bool_


def test_vocabulary_without_wanted_objects_triggers_nothing() -> None:
    boxes = _Boxes(("car", 100, 250, 200, 400), names=("car", "truck"))
    assert boxes.trigger(ZoneGeometry(_zone(), RES)).tolist() == [False]


def test_resolution_scales_the_polygon() -> None:
    small = ZoneGeometry(_zone(min_box_wh=(0.0, 0.0), exclusions=[]), (100, 50))
    assert small.polygon_px.tolist() == [[0, 25], [100, 25], [100, 50], [0, 50]]
    boxes = _Boxes(("stall", 10, 20, 20, 30))
    assert boxes.trigger(small).tolist() == [True]
    large = ZoneGeometry(_zone(min_box_wh=(0.0, 0.0), exclusions=[]), RES)
    assert boxes.trigger(large).tolist() == [False]


def test_contains_xy() -> None:
    geometry = ZoneGeometry(_zone(), RES)
    assert geometry.contains_xy([100, 100, 900, 500], [300, 100, 300, 300]).tolist() == [
        True,
        False,
        False,
        True,
    ]
    assert geometry.exclusions_px[0].tolist() == [[800, 250], [1000, 250], [1000, 500], [800, 500]]


def test_trigger_refuses_mismatched_arrays() -> None:
    with pytest.raises(ValueError, match="2 boxes but 1 class ids"):
        ZoneGeometry(_zone(), RES).trigger(np.zeros((2, 4)), np.zeros(1, np.int64), NAMES)


@pytest.mark.parametrize(
    ("xyxy", "expected"),
    [
        ([], []),
        ([[0, 0, 10, 20]], [[5, 20]]),
        ([[10, 40, 30, 80], [-4, 0, 4, 2.5]], [[20, 80], [0, 2.5]]),
    ],
)
def test_bottom_center(xyxy: list[list[float]], expected: list[list[float]]) -> None:
    anchors = bottom_center(xyxy)
    assert anchors.shape == (len(expected), 2)
    assert anchors.tolist() == expected


@pytest.mark.parametrize("resolution", [(0, 100), (100, 0), (-1, -1)])
def test_bad_resolution(resolution: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="resolution_wh must be positive"):
        ZoneGeometry(_zone(), resolution)


# ---------------------------------------------------------------------------------------------
# Lines: door lines (which side) and crossing lines (which moves cross)


def _shop_zone(side: str = "below", points: Any = ((0.0, 0.7), (1.0, 0.7))) -> Zone:
    return _zone(
        kind="shop_frontage",
        exclusions=[],
        shop={"id": "SH-1", "name": "Shop"},
        door_line={"points": points, "street_side": side},
    )


@pytest.mark.parametrize(
    ("side", "points", "expected"),
    [
        # door line at y = 350 px; anchors at y = 300 (above), 400 (below)
        ("below", ((0.0, 0.7), (1.0, 0.7)), [False, True]),
        ("above", ((0.0, 0.7), (1.0, 0.7)), [True, False]),
        # slanted line from (0, 300) to (1000, 400): at x = 150 it is at y = 315
        ("below", ((0.0, 0.6), (1.0, 0.8)), [False, True]),
    ],
)
def test_beyond_door(side: str, points: Any, expected: list[bool]) -> None:
    g = ZoneGeometry(_shop_zone(side, points), RES)
    anchors = bottom_center([[100, 260, 200, 300], [100, 300, 200, 400]])
    assert g.beyond_door(anchors).tolist() == expected
    assert g.beyond_door(np.zeros((0, 2), dtype=np.float32)).tolist() == []


def test_beyond_door_on_a_steep_line() -> None:
    zone = _shop_zone("right", ((0.5, 0.55), (0.55, 0.95)))  # x from 500 to 550 px
    g = ZoneGeometry(zone, RES)
    anchors = bottom_center([[400, 300, 480, 400], [560, 300, 640, 400]])
    assert g.beyond_door(anchors).tolist() == [False, True]


def test_beyond_door_needs_a_door_line() -> None:
    with pytest.raises(ValueError, match="has no door_line"):
        ZoneGeometry(_zone(), RES).beyond_door(np.zeros((0, 2)))


def test_crossing_line() -> None:
    zone = _zone(
        kind="road",
        objects=["goods"],
        exclusions=[],
        crossing_line={"points": ((0.5, 0.55), (0.5, 0.95)), "direction": "rightward"},
    )
    line = ZoneGeometry(zone, RES).crossing_line
    assert line is not None and not line.flat
    start = np.array([[400, 400], [400, 400], [400, 100], [600, 400], [400, 475], [500, 400]])
    end = np.array([[600, 400], [450, 400], [600, 100], [400, 400], [600, 475], [600, 400]])
    # across; short of it; beyond the segment's end (y=100 < 275); back across; to its end
    # point (y = 475 is the segment's end); starting on it
    assert line.crossed(start, end).tolist() == [True, False, False, True, True, True]
    assert line.on_side(end, "right").tolist() == [True, False, True, False, True, True]
    with pytest.raises(ValueError, match="does not fit"):
        line.on_side(end, "below")
