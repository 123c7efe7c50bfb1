"""The scene's geometry as zones: areas and points through the camera, the door line's side."""

from __future__ import annotations

import pytest

from training.scenes.camera import Camera
from training.scenes.rule_scenarios.projection import (
    one_zone,
    project_area,
    project_point,
    street_side,
    visible_x,
)


def _camera() -> Camera:
    return Camera((0.0, 15.0, 7.0), -90.0, 28.0, 65.0, 640, 360)


def test_area_in_view_is_clipped_to_the_frame() -> None:
    polygon = project_area(_camera(), [(-100, 0.3), (100, 0.3), (100, 4.0), (-100, 4.0)])
    assert len(polygon) >= 4
    assert all(0.0 <= x <= 1.0 and 0.0 <= y <= 1.0 for x, y in polygon)
    assert min(x for x, _ in polygon) == 0.0 and max(x for x, _ in polygon) == 1.0


@pytest.mark.parametrize(
    "area",
    [
        [(-2, 40), (2, 40), (2, 44), (-2, 44)],  # behind the camera
        [(-0.05, 2.0), (0.05, 2.0), (0.05, 2.1), (-0.05, 2.1)],  # a few pixels
    ],
)
def test_area_out_of_view(area: list[tuple[float, float]]) -> None:
    with pytest.raises(ValueError, match="does not see the area"):
        project_area(_camera(), area)


def test_point() -> None:
    x, y = project_point(_camera(), 0.0, 2.0)
    assert x == pytest.approx(0.5, abs=1e-3) and 0.5 < y <= 1.0
    with pytest.raises(ValueError, match="behind the camera"):
        project_point(_camera(), 0.0, 40.0)


def test_visible_x_has_no_margin() -> None:
    lo, hi = visible_x(_camera(), 2.0)
    assert lo < 0.0 < hi
    edges = sorted(project_point(_camera(), x, 2.0)[0] for x in (lo, hi))
    assert edges == pytest.approx([0.0, 1.0], abs=0.03)  # the frame's edges, to the 0.5 m step


@pytest.mark.parametrize(
    ("a", "b", "street", "side"),
    [
        ((0.1, 0.5), (0.9, 0.5), (0.5, 0.8), "below"),
        ((0.1, 0.5), (0.9, 0.5), (0.5, 0.2), "above"),
        ((0.1, 0.4), (0.9, 0.6), (0.5, 0.7), "below"),  # sloping, still flat
        ((0.5, 0.1), (0.5, 0.9), (0.8, 0.5), "right"),
        ((0.5, 0.1), (0.55, 0.9), (0.2, 0.5), "left"),
    ],
)
def test_street_side(
    a: tuple[float, float], b: tuple[float, float], street: tuple[float, float], side: str
) -> None:
    assert street_side((800, 450), a, b, street) == side


def test_one_zone_names_the_scenario_camera() -> None:
    zones = one_zone(
        "goods_beyond_line",
        {
            "id": "z",
            "name": "Z",
            "kind": "road",
            "polygon": [(0, 0), (1, 0), (1, 1)],
            "objects": ["truck"],
        },
    )
    assert zones.camera_id == "scn-goods-beyond-line"
    assert [z.id for z in zones.zones] == ["z"]
