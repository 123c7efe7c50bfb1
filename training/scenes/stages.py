"""The four scripted stages: a stall set up, goods put out, trucks driving by, a net pulled.

Each builder sets one stage (:class:`~training.scenes.staging.Stage`) from a generator and
returns it with what the scripts that use it need to know (when the stall opens, which
shop, when each truck passes, where the soil heap is). The scenario clips
(:mod:`training.scenes.scenarios`) and the rule scenarios
(:mod:`training.scenes.rule_scenarios`) both build their stages here.

Example:
    >>> import numpy as np
    >>> from training.scenes.render import Light
    >>> staged = stall_stage(np.random.default_rng(1), 320, 180, 20.0, Light.DAY)
    >>> staged.t_setup, staged.stage.camera.width
    (3.0, 320)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from training.scenes import objects
from training.scenes.geometry import Face, Solid
from training.scenes.render import Light
from training.scenes.scenery import FENCE_Y, Shop, build_street
from training.scenes.staging import (
    Script,
    Stage,
    actor_seed,
    camera_caption,
    clear_conditions,
    drive,
    front_shop,
    is_night,
    shop_camera,
    site_camera,
    spot_on_pavement,
    static,
    vehicles,
    visible_lanes,
    walkers,
    x_extent,
)

STALL_Y = 2.4
"""Where stalls are set up across the near pavement, metres from the facade."""


@dataclass(frozen=True, slots=True)
class StallStage:
    """A vendor walks up and opens an umbrella stall on the near pavement.

    Attributes:
        stage: The stage.
        t_setup: When the stall appears (it opens over the next second), seconds.
    """

    stage: Stage
    t_setup: float


def stall_stage(
    rng: np.random.Generator, width: int, height: int, seconds: float, light: Light
) -> StallStage:
    """People and cars pass while a vendor opens a stall at 15 % of the clip (4 s at most)."""
    camera = shop_camera(rng, width, height)
    street = build_street(rng, night=is_night(light), clear_of=camera.position[:2])
    x_stall = spot_on_pavement(camera, 0.5, 0.62, STALL_Y)
    t_setup = min(4.0, 0.15 * seconds)
    view_yaw = math.radians(camera.yaw_deg)
    stall_seed = actor_seed(rng)
    vendor_seed = actor_seed(rng)
    x_lo, x_hi = x_extent(camera, STALL_Y + 0.9)
    x_from = x_lo if rng.random() < 0.5 else x_hi
    walk = max(1.0, t_setup - 0.3)

    def stall(t: float) -> Solid | None:
        if t < t_setup:
            return None
        opened = min(1.0, 0.3 + (t - t_setup) / 1.0)
        return objects.stall(
            np.random.default_rng(stall_seed),
            x_stall,
            STALL_Y,
            0.0,
            variant=0,
            open_frac=opened,
            key="stall-1",
        )

    def vendor(t: float) -> Solid | None:
        frac = min(1.0, t / walk)
        x = x_from + (x_stall + 1.2 - x_from) * frac
        return objects.person(
            np.random.default_rng(vendor_seed),
            x,
            STALL_Y + 0.9,
            view_yaw,
            phase=x * 2.2 if frac < 1.0 else 0.0,
            umbrella=False,
            key="vendor",
        )

    actors: list[Script] = [stall, vendor]
    actors += walkers(rng, camera, seconds, [0.9, 1.3], 3.0, "person")
    actors += vehicles(rng, camera, seconds, 4.0, "car")
    stage = Stage(camera, clear_conditions(rng, light), street, tuple(actors), camera_caption(rng))
    return StallStage(stage, t_setup)


@dataclass(frozen=True, slots=True)
class GoodsStep:
    """Goods put out in front of a shop.

    Attributes:
        at_frac: When, as a fraction of the clip.
        x: Centre along the street, metres.
        y: Distance from the facade, metres.
        variant: The first piece of the cluster (see :func:`objects.goods`).
    """

    at_frac: float
    x: float
    y: float
    variant: int


GoodsLayout = Callable[[Shop, float], tuple[GoodsStep, ...]]
"""Where goods go, given the shop and the side (``1.0`` or ``-1.0``) the keeper stands on."""


@dataclass(frozen=True, slots=True)
class GoodsStage:
    """Goods come out of a shop door in steps while a shopkeeper stands by.

    Attributes:
        stage: The stage.
        shop: The shop.
        times: When each step of goods appears, seconds.
    """

    stage: Stage
    shop: Shop
    times: tuple[float, ...]


def goods_stage(
    rng: np.random.Generator,
    width: int,
    height: int,
    seconds: float,
    light: Light,
    layout: GoodsLayout,
) -> GoodsStage:
    """Goods put out at the shop in the middle of the view, in the steps ``layout`` gives."""
    camera = shop_camera(rng, width, height)
    street = build_street(rng, night=is_night(light), clear_of=camera.position[:2])
    shop = front_shop(camera, street.shops)
    side = 1.0 if rng.random() < 0.5 else -1.0
    actors: list[Script] = []
    times = []
    for k, step in enumerate(layout(shop, side), start=1):
        solid = objects.goods(
            np.random.default_rng(actor_seed(rng)),
            step.x,
            step.y,
            variant=step.variant,
            key=f"goods-{k}",
        )
        actors.append(static(solid, step.at_frac * seconds))
        times.append(step.at_frac * seconds)
    keeper = objects.person(
        rng,
        shop.door_x - side * (shop.door_w / 2 + 0.6),
        0.7,
        math.radians(camera.yaw_deg),
        phase=0.0,
        umbrella=False,
        key="shopkeeper",
    )
    actors.append(static(keeper, 0.1 * seconds, 0.7 * seconds))
    actors += walkers(rng, camera, seconds, [3.4], 4.0, "person")
    actors += vehicles(rng, camera, seconds, 5.0, "car")
    stage = Stage(camera, clear_conditions(rng, light), street, tuple(actors), camera_caption(rng))
    return GoodsStage(stage, shop, tuple(times))


@dataclass(frozen=True, slots=True)
class TruckPass:
    """One truck of a trucks stage.

    Attributes:
        key: Its identity across frames.
        covered: Whether its load is covered.
    """

    key: str
    covered: bool


@dataclass(frozen=True, slots=True)
class TrucksStage:
    """Two trucks drive through, one after the other.

    Attributes:
        stage: The stage.
        windows: ``(enter, leave)`` times of each truck, seconds.
    """

    stage: Stage
    windows: tuple[tuple[float, float], ...]


def trucks_stage(
    rng: np.random.Generator,
    width: int,
    height: int,
    seconds: float,
    light: Light,
    trucks: tuple[TruckPass, TruckPass],
    *,
    max_speed_ms: float,
) -> TrucksStage:
    """The first truck enters at 5 % in the nearest lane, the second at half in the farthest.

    Each crosses the view in about 35 % of the clip, at 3 m/s to ``max_speed_ms``.

    Raises:
        ValueError: The camera sees no driving lane.
    """
    camera = shop_camera(rng, width, height)
    street = build_street(rng, night=is_night(light), clear_of=camera.position[:2])
    lanes = visible_lanes(camera)
    if not lanes:
        raise ValueError("the camera sees no driving lane")
    actors: list[Script] = []
    windows = []
    for truck, start_frac, (y, forward) in zip(
        trucks, (0.05, 0.5), (lanes[0], lanes[-1]), strict=True
    ):
        lo, hi = x_extent(camera, y, margin=6.0)
        speed = min(max_speed_ms, max(3.0, (hi - lo) / (0.35 * seconds)))
        seed = actor_seed(rng)
        t0 = start_frac * seconds
        windows.append((t0, t0 + (hi - lo) / speed))

        at = drive(lo, hi, t0, speed, forward=forward)

        def script(
            t: float,
            at: Callable[[float], float | None] = at,
            y: float = y,
            yaw: float = 0.0 if forward else math.pi,
            seed: int = seed,
            truck: TruckPass = truck,
        ) -> Solid | None:
            x = at(t)
            if x is None:
                return None
            rng = np.random.default_rng(seed)
            return objects.truck(rng, x, y, yaw, covered=truck.covered, key=truck.key)

        actors.append(script)
    actors += walkers(rng, camera, seconds, [1.0, 3.3], 4.0, "person")
    stage = Stage(camera, clear_conditions(rng, light), street, tuple(actors), camera_caption(rng))
    return TrucksStage(stage, tuple(windows))


@dataclass(frozen=True, slots=True)
class SiteStage:
    """A soil heap under a dust net in the construction site.

    Attributes:
        stage: The stage.
        heap_xy: Centre of the heap on the ground, metres.
        t_pull: When the net starts coming off, seconds.
        pull_s: How long pulling it off takes, seconds.
    """

    stage: Stage
    heap_xy: tuple[float, float]
    t_pull: float
    pull_s: float


def site_stage(
    rng: np.random.Generator,
    width: int,
    height: int,
    seconds: float,
    light: Light,
    *,
    pull: bool,
    worker: bool,
) -> SiteStage:
    """A netted soil heap; with ``pull`` the net is pulled off from 40 % of the clip.

    Args:
        rng: The generator.
        width: Frame width, pixels.
        height: Frame height, pixels.
        seconds: Clip length.
        light: The light.
        pull: Pull the net off (else it stays on).
        worker: A worker walks along the heap while the net comes off.

    Raises:
        ValueError: The camera sees no ground.
    """
    camera = site_camera(rng, width, height)
    street = build_street(rng, night=is_night(light), clear_of=camera.position[:2])
    g = camera.ground_point(0.5 * width, 0.45 * height)
    if g is None:
        raise ValueError("camera sees no ground")
    hx, hy = g[0], max(FENCE_Y + 10.0, g[1])
    radius, heap = 3.5, float(rng.uniform(1.2, 1.8))
    shape_seed = actor_seed(rng)
    soil = objects.soil_patch(
        np.random.default_rng(shape_seed), hx, hy, radius=radius, heap=heap, key="soil-1"
    )
    net_full = objects.dust_net(
        np.random.default_rng(shape_seed), hx, hy, radius=radius, heap=heap, key="net-1"
    )
    t_pull, pull_s = 0.4 * seconds, max(2.0, 0.1 * seconds)
    direction = 1.0 if rng.random() < 0.5 else -1.0

    def net(t: float) -> Solid | None:
        if not pull or t < t_pull:
            return net_full
        p = (t - t_pull) / pull_s
        if p >= 1.0:
            return None
        anchor = np.array([hx - direction * radius, hy, 0.0])
        shift = np.array([direction * 2.0 * radius * p, 0.0, 0.0])
        shrink = np.array([1.0 - 0.8 * p, 1.0 - 0.5 * p, 1.0 - p])
        faces = tuple(
            Face(
                anchor + (f.points - anchor) * shrink + shift,
                f.color,
                f.emissive,
                f.shaded,
                f.texture,
            )
            for f in net_full.faces
        )
        return Solid(
            net_full.name, faces, net_full.anchor, net_full.layer, False, None, net_full.key
        )

    actors: list[Script] = [static(soil, 0.0), net]
    if worker:
        actors.append(
            _worker(actor_seed(rng), camera.yaw_deg, (hx, hy), radius, direction, t_pull, pull_s)
        )
    actors += vehicles(rng, camera, seconds, 5.0, "car")
    stage = Stage(camera, clear_conditions(rng, light), street, tuple(actors), camera_caption(rng))
    return SiteStage(stage, (hx, hy), t_pull, pull_s)


def _worker(
    seed: int,
    yaw_deg: float,
    heap_xy: tuple[float, float],
    radius: float,
    direction: float,
    t_pull: float,
    pull_s: float,
) -> Script:
    """A worker walking along the heap's near edge with the net, from 2 s before to 2 s after."""
    hx, hy = heap_xy
    view_yaw = math.radians(yaw_deg)

    def worker(t: float) -> Solid | None:
        if not t_pull - 2.0 <= t < t_pull + pull_s + 2.0:
            return None
        p = min(1.0, max(0.0, (t - t_pull) / pull_s))
        x = hx - direction * radius * 0.2 + direction * (2.2 * radius * p)
        return objects.person(
            np.random.default_rng(seed),
            x,
            hy - radius - 0.5,
            view_yaw,
            phase=x * 2.2,
            umbrella=False,
            key="worker",
        )

    return worker
