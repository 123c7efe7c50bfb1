"""The four scripted stages: what each sets up, and that a seed gives the same stage."""

from __future__ import annotations

import numpy as np
import pytest

from training.scenes.render import Light
from training.scenes.scenery import Shop
from training.scenes.stages import (
    GoodsStep,
    TruckPass,
    goods_stage,
    site_stage,
    stall_stage,
    trucks_stage,
)
from training.scenes.staging import Script

W, H = 480, 270


def _rng(seed: int = 1) -> np.random.Generator:
    return np.random.default_rng(seed)


def _names_at(actors: tuple[Script, ...], t: float) -> list[str]:
    return sorted(s.name for s in (a(t) for a in actors) if s is not None)


@pytest.mark.parametrize(("seconds", "t_setup"), [(40.0, 4.0), (20.0, 3.0), (4.0, 0.6)])
def test_stall_opens_at_fifteen_percent_or_four_seconds(seconds: float, t_setup: float) -> None:
    staged = stall_stage(_rng(), W, H, seconds, Light.DAY)
    assert staged.t_setup == pytest.approx(t_setup)
    assert "stall" not in _names_at(staged.stage.actors, t_setup - 0.01)
    assert "stall" in _names_at(staged.stage.actors, t_setup)
    assert (staged.stage.camera.width, staged.stage.camera.height) == (W, H)


def test_stage_is_the_same_for_the_same_seed() -> None:
    a = stall_stage(_rng(7), W, H, 20.0, Light.NIGHT)
    b = stall_stage(_rng(7), W, H, 20.0, Light.NIGHT)
    assert a.stage.camera == b.stage.camera and a.stage.caption == b.stage.caption
    assert a.stage.street.lamps == b.stage.street.lamps
    for t in (0.0, 5.0, 12.5):
        sa = [s for s in (x(t) for x in a.stage.actors) if s is not None]
        sb = [s for s in (x(t) for x in b.stage.actors) if s is not None]
        assert [(s.key, s.anchor) for s in sa] == [(s.key, s.anchor) for s in sb]


def _two_steps(shop: Shop, side: float) -> tuple[GoodsStep, ...]:
    return (GoodsStep(0.25, shop.door_x, 0.3, 0), GoodsStep(0.5, shop.door_x + side, 2.0, 1))


def test_goods_come_out_in_the_layout_steps() -> None:
    staged = goods_stage(_rng(), W, H, 20.0, Light.DAY, _two_steps)
    assert staged.times == (5.0, 10.0)
    assert staged.shop.x0 <= staged.shop.door_x <= staged.shop.x1
    assert _names_at(staged.stage.actors, 4.9).count("goods") == 0
    assert _names_at(staged.stage.actors, 5.0).count("goods") == 1
    assert _names_at(staged.stage.actors, 10.0).count("goods") == 2


def test_goods_stage_with_no_goods() -> None:
    staged = goods_stage(_rng(), W, H, 20.0, Light.DAY, lambda shop, side: ())
    assert staged.times == ()
    assert "goods" not in _names_at(staged.stage.actors, 19.0)


def test_trucks_pass_one_after_the_other() -> None:
    trucks = (TruckPass("t-a", covered=True), TruckPass("t-b", covered=False))
    staged = trucks_stage(_rng(3), W, H, 40.0, Light.DAY, trucks, max_speed_ms=10.0)
    (a0, a1), (b0, b1) = staged.windows
    assert (a0, b0) == (2.0, 20.0) and a0 < a1 and b0 < b1
    present = {
        s.key: s.covered
        for t in np.arange(0.0, 40.0, 0.5)
        for s in (x(float(t)) for x in staged.stage.actors)
        if s is not None and s.name == "truck"
    }
    assert present == {"t-a": True, "t-b": False}


def test_trucks_drive_no_faster_than_the_limit() -> None:
    trucks = (TruckPass("a", covered=True), TruckPass("b", covered=True))
    fast = trucks_stage(_rng(3), W, H, 10.0, Light.DAY, trucks, max_speed_ms=12.0)
    slow = trucks_stage(_rng(3), W, H, 10.0, Light.DAY, trucks, max_speed_ms=3.0)
    assert [a for a, _ in slow.windows] == [a for a, _ in fast.windows]
    assert all(
        s1 - s0 > f1 - f0 for (s0, s1), (f0, f1) in zip(slow.windows, fast.windows, strict=True)
    )


@pytest.mark.parametrize("pull", [True, False])
def test_site_net_comes_off_only_when_pulled(pull: bool) -> None:
    site = site_stage(_rng(5), W, H, 20.0, Light.DAY, pull=pull, worker=False)
    assert (site.t_pull, site.pull_s) == (8.0, 2.0)
    before = _names_at(site.stage.actors, site.t_pull - 0.1)
    after = _names_at(site.stage.actors, site.t_pull + site.pull_s)
    assert "dust_net" in before and "bare_soil" in before
    assert ("dust_net" in after) is not pull


def test_site_worker_walks_while_the_net_comes_off() -> None:
    site = site_stage(_rng(5), W, H, 20.0, Light.DAY, pull=True, worker=True)
    assert "person" not in _names_at(site.stage.actors[:3], site.t_pull - 2.1)
    assert "person" in _names_at(site.stage.actors[:3], site.t_pull + 1.0)
    without = site_stage(_rng(5), W, H, 20.0, Light.DAY, pull=True, worker=False)
    assert without.heap_xy == site.heap_xy
