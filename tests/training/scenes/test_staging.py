"""Stage parts: lines the camera sees, lanes, scripted motion, and filming a stage."""

from __future__ import annotations

import numpy as np
import pytest

from training.scenes import objects
from training.scenes.camera import Camera
from training.scenes.geometry import Solid
from training.scenes.render import Light
from training.scenes.scenery import PAVEMENT_Y, ROAD_Y1, Shop, build_street
from training.scenes.staging import (
    Film,
    Stage,
    actor_seed,
    clear_conditions,
    drive,
    front_shop,
    is_night,
    shop_camera,
    spot_on_pavement,
    static,
    visible_lanes,
    walkers,
    x_extent,
)


def _camera() -> Camera:
    return Camera((0.0, 15.0, 7.0), -90.0, 28.0, 65.0, 640, 360)


def test_x_extent_spans_what_the_camera_sees() -> None:
    lo, hi = x_extent(_camera(), 2.0, margin=0.0)
    assert lo < 0.0 < hi  # the camera looks straight at x = 0
    lo3, hi3 = x_extent(_camera(), 2.0)
    assert (lo3, hi3) == (lo - 3.0, hi + 3.0)


def test_x_extent_of_a_line_behind_the_camera() -> None:
    with pytest.raises(ValueError, match="sees no part of the line y=40"):
        x_extent(_camera(), 40.0)


def test_visible_lanes() -> None:
    lanes = visible_lanes(_camera())
    assert lanes and all(PAVEMENT_Y < y < ROAD_Y1 for y, _ in lanes)
    assert [forward for _, forward in lanes] == [True, False][: len(lanes)]
    # looking up into the sky: no lane
    assert visible_lanes(Camera((0.0, 15.0, 7.0), -90.0, -60.0, 65.0, 640, 360)) == []


@pytest.mark.parametrize(
    ("t", "forward", "expected"),
    [
        (0.5, True, None),  # before it enters
        (1.0, True, 10.0),
        (2.0, True, 15.0),
        (2.0, False, 15.0),
        (1.5, False, 17.5),
        (3.0, True, 20.0),  # just at the far end
        (3.5, True, None),  # gone
    ],
)
def test_drive(t: float, forward: bool, expected: float | None) -> None:
    assert drive(10.0, 20.0, 1.0, 5.0, forward=forward)(t) == expected


def test_static_actor_appears_and_disappears() -> None:
    solid = Solid("goods", (), (0.0, 0.0, 0.0))
    script = static(solid, 2.0, 5.0)
    assert [script(t) for t in (1.9, 2.0, 4.9, 5.0)] == [None, solid, solid, None]
    assert static(solid, 0.0)(1e6) is solid


def test_front_shop_is_the_one_in_the_middle() -> None:
    camera = _camera()
    shops = (Shop(-20.0, -14.0, -17.0, 1.5), Shop(-3.0, 3.0, 0.2, 1.5), Shop(14, 20, 17.0, 1.5))
    assert front_shop(camera, shops) == shops[1]
    with pytest.raises(ValueError, match="no shop door in view"):
        front_shop(camera, ())


def test_spot_on_pavement_lands_near_the_pixel() -> None:
    camera = _camera()
    x = spot_on_pavement(camera, 0.5, 0.62, 2.4)
    uv, _ = camera.project(np.array([[x, 2.4, 0.0]]))
    assert abs(uv[0, 0] - 0.5 * camera.width) < 5.0


def test_conditions_and_seeds() -> None:
    rng = np.random.default_rng(3)
    assert clear_conditions(rng, Light.DAY).noise_sigma == 2.5
    assert clear_conditions(rng, Light.NIGHT_IR).noise_sigma == 6.0
    assert clear_conditions(rng, Light.DUSK).rain == 0.0
    assert [is_night(light) for light in Light] == [False, False, True, True]
    assert 0 <= actor_seed(rng) < 2**31


def test_walkers_cross_the_view_and_are_seeded() -> None:
    camera = _camera()
    a = walkers(np.random.default_rng(5), camera, 20.0, [1.0], 2.0, "p")
    b = walkers(np.random.default_rng(5), camera, 20.0, [1.0], 2.0, "p")
    assert len(a) == len(b) >= 5
    seen = [s for s in (w(10.0) for w in a) if s is not None]
    assert seen and all(s.name == "person" and s.key.startswith("p-") for s in seen)
    again = [s for s in (w(10.0) for w in b) if s is not None]
    assert [s.anchor for s in seen] == [s.anchor for s in again]


def _stage(seed: int) -> Stage:
    rng = np.random.default_rng(seed)
    camera = shop_camera(rng, 320, 180)
    street = build_street(rng, night=False, clear_of=camera.position[:2])
    box = objects.goods(np.random.default_rng(seed), 0.0, 1.0, key="goods-1")
    return Stage(camera, clear_conditions(rng, Light.DAY), street, (static(box, 1.0),), "CAM")


def test_film_is_deterministic_per_generator() -> None:
    stage = _stage(1)
    one, two = Film(stage, np.random.default_rng(9), 2), Film(stage, np.random.default_rng(9), 2)
    for i in range(3):
        a, b = one.photo(one.scene(i * 0.5), i, "CAM"), two.photo(two.scene(i * 0.5), i, "CAM")
        assert a.shape == (180, 320, 3) and a.dtype == np.uint8
        assert np.array_equal(a, b)


def test_film_cycles_its_sensor_noise() -> None:
    film = Film(_stage(2), np.random.default_rng(4), 2)
    canvas = film.scene(0.0)
    first, second, third = (film.photo(canvas, i, "") for i in range(3))
    assert not np.array_equal(first, second)
    assert np.array_equal(first, third)
