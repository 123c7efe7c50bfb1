"""What scripted stages are built from: the stage, cameras, light, passers-by, and filming it.

A :class:`Stage` is a camera, its light, the street and the actors (``t -> Solid | None``
scripts). The scripted clips (:mod:`training.scenes.scenarios`) and the rule scenarios
(:mod:`training.scenes.rule_scenarios`) set their stages with the builders of
:mod:`training.scenes.stages`, which use these parts, and draw their frames with
:class:`Film`. Every part draws from the generator it is given in a fixed order, so a seed
gives the same stage, frame for frame.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from training.scenes import objects
from training.scenes.camera import Camera
from training.scenes.geometry import Solid
from training.scenes.render import Canvas, Conditions, ImageArray, Light, add_overlay, add_rain
from training.scenes.scenery import PAVEMENT_Y, ROAD_Y1, Shop, Street

Script = Callable[[float], Solid | None]
"""An actor: the solid it is at time ``t`` seconds, or ``None`` while absent."""


@dataclass(frozen=True, slots=True)
class Stage:
    """A scenario ready to render: camera, light, scenery and actors.

    Attributes:
        camera: The camera (its size is the frame size).
        conditions: Light and weather.
        street: The scenery.
        actors: The scripted objects.
        caption: The camera caption burnt into every frame.
    """

    camera: Camera
    conditions: Conditions
    street: Street
    actors: tuple[Script, ...]
    caption: str


class Film:
    """Draws a stage's frames: the street once, the actors at each time over it.

    Args:
        stage: The stage.
        rng: The generator for textures and sensor noise (drawn from in frame order).
        noise_frames: How many sensor-noise images to draw up front and cycle through.
    """

    def __init__(self, stage: Stage, rng: np.random.Generator, noise_frames: int) -> None:
        self.stage = stage
        self.rng = rng
        back = Canvas(stage.camera, stage.conditions, rng)
        back.draw(stage.street.solids)
        self._background, self._emissive = back.image, back.emissive
        shape = (stage.camera.height, stage.camera.width, 1)
        self._noise = [
            rng.normal(0.0, stage.conditions.noise_sigma, shape).astype(np.float32)
            for _ in range(noise_frames)
        ]

    def scene(self, t: float) -> Canvas:
        """The actors at ``t`` seconds drawn over the street (labels ready, not yet lit)."""
        solids = [s for s in (actor(t) for actor in self.stage.actors) if s is not None]
        canvas = Canvas(
            self.stage.camera, self.stage.conditions, self.rng, self._background, self._emissive
        )
        canvas.draw(solids)
        return canvas

    def photo(self, canvas: Canvas, index: int, caption: str) -> ImageArray:
        """The camera's image of a drawn scene: lit, wet, with frame ``index``'s noise."""
        conditions = self.stage.conditions
        image = add_rain(canvas.lit(self.stage.street.lamps), conditions.rain, self.rng)
        noisy = image.astype(np.float32) + self._noise[index % len(self._noise)]
        return add_overlay(np.clip(noisy, 0, 255).astype(np.uint8), caption)


def clear_conditions(rng: np.random.Generator, light: Light) -> Conditions:
    """Dry weather at ``light``, a random sun, sensor noise as the light needs."""
    return Conditions(
        light=light,
        sun_azimuth_deg=float(rng.uniform(0, 360)),
        sun_elevation_deg=float(rng.uniform(35, 60) if light == Light.DAY else rng.uniform(8, 15)),
        rain=0.0,
        noise_sigma=2.5 if light in (Light.DAY, Light.DUSK) else 6.0,
        blur_sigma=0.0,
        jpeg_quality=90,
        overlay=True,
        exposure=1.0,
    )


def camera_caption(rng: np.random.Generator) -> str:
    """A camera caption: a date and a camera name."""
    return f"2025-{rng.integers(3, 11):02d}-{rng.integers(1, 28):02d}  CAM{rng.integers(1, 40):02d}"


def is_night(light: Light) -> bool:
    """Whether street lamps are on under ``light``."""
    return light in (Light.NIGHT, Light.NIGHT_IR)


def actor_seed(rng: np.random.Generator) -> int:
    """A seed for an actor, so that it looks the same in every frame."""
    return int(rng.integers(0, 2**31))


def shop_camera(rng: np.random.Generator, width: int, height: int) -> Camera:
    """A pole camera on the far pavement looking at the shops, turned left or right."""
    side = 1.0 if rng.random() < 0.5 else -1.0
    return Camera(
        (0.0, float(rng.uniform(14.6, 15.4)), float(rng.uniform(6.0, 8.0))),
        -90.0 + side * float(rng.uniform(15, 30)),
        float(rng.uniform(24, 30)),
        float(rng.uniform(60, 70)),
        width,
        height,
    )


def site_camera(rng: np.random.Generator, width: int, height: int) -> Camera:
    """A pole camera on the near pavement looking over the hoarding into the site."""
    return Camera(
        (0.0, float(rng.uniform(1.5, 2.5)), float(rng.uniform(8.5, 10.0))),
        90.0 + float(rng.uniform(-12, 12)),
        float(rng.uniform(21, 24)),
        float(rng.uniform(60, 68)),
        width,
        height,
    )


def x_extent(camera: Camera, y: float, margin: float = 3.0) -> tuple[float, float]:
    """The span of ``x`` along the line ``y`` on the ground that the camera sees.

    Raises:
        ValueError: The camera sees no part of the line.
    """
    xs = np.arange(-150.0, 150.0, 0.5)
    pts = np.stack([xs, np.full_like(xs, y), np.zeros_like(xs)], axis=1)
    uv, depth = camera.project(pts)
    inside = (
        (depth > 1.0)
        & (uv[:, 0] >= 0)
        & (uv[:, 0] < camera.width)
        & (uv[:, 1] >= 0)
        & (uv[:, 1] < camera.height)
    )
    if not inside.any():
        raise ValueError(f"the camera sees no part of the line y={y}")
    return float(xs[inside].min()) - margin, float(xs[inside].max()) + margin


def visible_lanes(camera: Camera) -> list[tuple[float, bool]]:
    """The driving lanes ``(y, heading +x)`` that the camera sees some part of."""
    lanes = []
    for y, forward in ((PAVEMENT_Y + 2.0, True), (ROAD_Y1 - 2.6, False)):
        try:
            x_extent(camera, y)
        except ValueError:
            continue
        lanes.append((y, forward))
    return lanes


def spot_on_pavement(camera: Camera, u_frac: float, v_frac: float, y: float) -> float:
    """The ``x`` on the line ``y`` closest in the image to pixel fraction ``(u, v)``."""
    target = np.array([u_frac * camera.width, v_frac * camera.height])
    xs = np.arange(-60.0, 60.0, 0.1)
    pts = np.stack([xs, np.full_like(xs, y), np.zeros_like(xs)], axis=1)
    uv, depth = camera.project(pts)
    dist = np.where(depth > 1.0, np.linalg.norm(uv - target, axis=1), np.inf)
    return float(xs[int(np.argmin(dist))])


def front_shop(camera: Camera, shops: tuple[Shop, ...]) -> Shop:
    """The shop whose door is nearest the middle of the image.

    Raises:
        ValueError: No shop door is in front of the camera.
    """
    target = np.array([0.5 * camera.width, 0.5 * camera.height])
    best: tuple[float, Shop] | None = None
    for shop in shops:
        uv, depth = camera.project(np.array([[shop.door_x, 0.0, 1.0]]))
        if depth[0] > 1.0:
            d = float(np.linalg.norm(uv[0] - target))
            if best is None or d < best[0]:
                best = (d, shop)
    if best is None:
        raise ValueError("no shop door in view")
    return best[1]


def static(solid: Solid, appear: float, disappear: float | None = None) -> Script:
    """An actor that stands still from ``appear`` until ``disappear`` (or the end)."""

    def script(t: float) -> Solid | None:
        if t < appear or (disappear is not None and t >= disappear):
            return None
        return solid

    return script


def walkers(
    rng: np.random.Generator,
    camera: Camera,
    seconds: float,
    lanes: list[float],
    every: float,
    prefix: str,
) -> list[Script]:
    """People walking across the view along ``lanes`` (``y``), one about every ``every`` s."""
    view_yaw = math.radians(camera.yaw_deg)
    scripts: list[Script] = []
    t0 = float(rng.uniform(-every, every))
    k = 0
    while t0 < seconds:
        y = float(rng.choice(lanes)) + float(rng.uniform(-0.25, 0.25))
        x_min, x_max = x_extent(camera, y)
        speed = float(rng.uniform(1.0, 1.6)) * (1 if rng.random() < 0.5 else -1)
        start = x_min if speed > 0 else x_max
        seed = actor_seed(rng)
        key = f"{prefix}-{k}"

        def script(
            t: float,
            t0: float = t0,
            start: float = start,
            speed: float = speed,
            y: float = y,
            seed: int = seed,
            key: str = key,
            lo: float = x_min,
            hi: float = x_max,
        ) -> Solid | None:
            if t < t0:
                return None
            x = start + speed * (t - t0)
            if not lo <= x <= hi:
                return None
            return objects.person(
                np.random.default_rng(seed), x, y, view_yaw, phase=x * 2.2, umbrella=False, key=key
            )

        scripts.append(script)
        t0 += every * float(rng.uniform(0.6, 1.4))
        k += 1
    return scripts


def drive(
    lo: float, hi: float, t0: float, speed: float, *, forward: bool
) -> Callable[[float], float | None]:
    """Where along the street a vehicle driving from one end of ``lo..hi`` is at ``t``.

    Returns:
        ``t -> x``, ``None`` before ``t0`` and once it has left ``lo..hi``.
    """

    def at(t: float) -> float | None:
        if t < t0:
            return None
        d = speed * (t - t0)
        x = lo + d if forward else hi - d
        return x if lo <= x <= hi else None

    return at


def vehicles(
    rng: np.random.Generator,
    camera: Camera,
    seconds: float,
    every: float,
    prefix: str,
) -> list[Script]:
    """Cars driving through in the visible lanes, one about every ``every`` seconds."""
    scripts: list[Script] = []
    lanes = visible_lanes(camera)
    t0 = float(rng.uniform(0, every))
    k = 0
    while t0 < seconds and lanes:
        y, forward = lanes[int(rng.integers(0, len(lanes)))]
        x_min, x_max = x_extent(camera, y, margin=6.0)
        speed = float(rng.uniform(6.0, 10.0))
        seed = actor_seed(rng)

        at = drive(x_min, x_max, t0, speed, forward=forward)

        def script(
            t: float,
            at: Callable[[float], float | None] = at,
            y: float = y,
            yaw: float = 0.0 if forward else math.pi,
            seed: int = seed,
            key: str = f"{prefix}-{k}",
        ) -> Solid | None:
            x = at(t)
            if x is None:
                return None
            return objects.car(np.random.default_rng(seed), x, y, yaw, key=key)

        scripts.append(script)
        t0 += every * float(rng.uniform(0.5, 1.5))
        k += 1
    return scripts
