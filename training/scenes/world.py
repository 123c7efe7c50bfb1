"""Sampling whole scenes: a camera on a pole, the street, the objects, the weather.

:func:`sample_scene` draws everything for one still image from a seed; :func:`render_scene`
turns it into a BGR image with its visible labelled boxes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np

from training.scenes import objects
from training.scenes.camera import Camera
from training.scenes.geometry import Layer, Solid
from training.scenes.render import (
    Canvas,
    Conditions,
    ImageArray,
    LabeledBox,
    add_overlay,
    add_rain,
    add_sensor,
)
from training.scenes.scenery import FENCE_Y, PAVEMENT_Y, ROAD_Y1, Shop, Street, build_street


class View(StrEnum):
    """Where the camera stands and what it looks at."""

    SHOPS = "shops"
    """From the far pavement, looking at the shopfronts across the road."""
    SITE = "site"
    """From the shop side, looking across the road into the construction site."""
    ALONG = "along"
    """Looking along the street."""


@dataclass(frozen=True, slots=True)
class Scene:
    """Everything needed to draw one image.

    Attributes:
        camera: The camera (its size is the drawing size).
        conditions: Light, weather and sensor.
        street: Scenery.
        objects: Labelled objects.
        caption: Text burnt into the image when ``conditions.overlay`` is set.
    """

    camera: Camera
    conditions: Conditions
    street: Street
    objects: tuple[Solid, ...]
    caption: str


@dataclass(frozen=True, slots=True)
class RenderedImage:
    """A rendered image and its labels.

    Attributes:
        image: BGR ``uint8`` image.
        boxes: Visible labelled objects, in the image's pixel coordinates.
    """

    image: ImageArray
    boxes: tuple[LabeledBox, ...]


def sample_camera(rng: np.random.Generator, width: int, height: int, view: View) -> Camera:
    """A pole camera for ``view`` with random height, heading, tilt and lens."""
    if view == View.SHOPS:
        pos = (0.0, float(rng.uniform(14.3, 15.8)), float(rng.uniform(4.5, 10.0)))
        yaw = -90.0 + float(rng.uniform(-50, 50))
        pitch = float(rng.uniform(18, 40))
    elif view == View.SITE:
        pos = (0.0, float(rng.uniform(0.8, 3.5)), float(rng.uniform(5.0, 12.0)))
        yaw = 90.0 + float(rng.uniform(-45, 45))
        pitch = float(rng.uniform(15, 35))
    else:
        pos = (0.0, float(rng.uniform(1.0, 15.0)), float(rng.uniform(5.0, 10.0)))
        yaw = float(rng.uniform(-30, 30)) + (180.0 if rng.random() < 0.5 else 0.0)
        pitch = float(rng.uniform(12, 30))
    return Camera(pos, yaw, pitch, float(rng.uniform(50, 85)), width, height)


class Placer:
    """Finds free, visible spots on the ground for objects.

    Args:
        rng: Random generator.
        camera: The camera the spots must be visible from.
    """

    def __init__(self, rng: np.random.Generator, camera: Camera) -> None:
        self.rng = rng
        self.camera = camera
        self.taken: list[tuple[float, float, float]] = []
        self._v0 = max(0.0, camera.horizon_v() + 0.03 * camera.height)

    def spot(
        self,
        accept: Callable[[float, float], bool],
        radius: float,
        max_depth: float,
        tries: int = 40,
    ) -> tuple[float, float] | None:
        """A ground point that ``accept(x, y)`` allows, free within ``radius`` metres."""
        cam = self.camera
        if self._v0 >= cam.height:
            return None
        for _ in range(tries):
            u = float(self.rng.uniform(0.03, 0.97)) * cam.width
            v = float(self.rng.uniform(self._v0, cam.height * 0.98))
            g = cam.ground_point(u, v)
            if g is None:
                continue
            x, y = g
            if not accept(x, y):
                continue
            if cam.depth_of((x, y, 0.0)) > max_depth:
                continue
            if any(math.hypot(x - tx, y - ty) < radius + tr for tx, ty, tr in self.taken):
                continue
            self.taken.append((x, y, radius))
            return (x, y)
        return None

    def claim(self, x: float, y: float, radius: float) -> None:
        """Mark a spot as taken."""
        self.taken.append((x, y, radius))


def sample_scene(rng: np.random.Generator, width: int, height: int) -> Scene:
    """Draw a random street scene for a still image of ``width`` by ``height`` pixels."""
    r = rng.random()
    view = View.SHOPS if r < 0.45 else View.SITE if r < 0.75 else View.ALONG
    camera = sample_camera(rng, width, height, view)
    conditions = Conditions.sample(rng)
    street = build_street(rng, night=conditions.night)
    view_yaw = math.radians(camera.yaw_deg)
    placer = Placer(rng, camera)
    solids: list[Solid] = []
    site0, site1 = street.site_x
    gate0, gate1 = street.gate_x

    def pavement(x: float, y: float) -> bool:
        return 0.6 < y < PAVEMENT_Y - 0.9 or ROAD_Y1 + 0.4 < y < FENCE_Y - 0.4

    def near_pavement(x: float, y: float) -> bool:
        return 1.2 < y < PAVEMENT_Y - 0.9

    def walkable(x: float, y: float) -> bool:
        return pavement(x, y) or (rng.random() < 0.15 and PAVEMENT_Y < y < ROAD_Y1)

    def in_site(x: float, y: float) -> bool:
        return site0 + 3 < x < site1 - 3 and FENCE_Y + 5 < y < FENCE_Y + 45

    for _ in range(int(rng.integers(0, 4)) + (1 if rng.random() < 0.6 else 0)):
        spot = placer.spot(near_pavement if rng.random() < 0.75 else pavement, 1.3, 55)
        if spot is not None:
            solids.append(
                objects.stall(
                    rng,
                    spot[0],
                    spot[1],
                    float(rng.uniform(-0.3, 0.3)) + (math.pi / 2 if rng.random() < 0.3 else 0.0),
                )
            )
    visible_shops = [s for s in street.shops if _visible(camera, (s.door_x, 0.0, 1.3), 40.0)]
    rng.shuffle(visible_shops)
    for shop in visible_shops[: int(rng.integers(1, 5))]:
        side = -1.0 if rng.random() < 0.5 else 1.0
        gx = shop.door_x + side * (shop.door_w / 2 + float(rng.uniform(1.0, 1.8)))
        if rng.random() < 0.3:
            gx = shop.door_x
        gy = float(rng.uniform(0.45, 1.6))
        if any(math.hypot(gx - tx, gy - ty) < 1.6 + tr for tx, ty, tr in placer.taken):
            continue
        placer.claim(gx, gy, 1.6)
        solids.append(objects.goods(rng, gx, gy))
    for _ in range(int(rng.integers(0, 7))):
        spot = placer.spot(walkable, 0.4, 50)
        if spot is not None:
            solids.append(objects.person(rng, spot[0], spot[1], view_yaw))
    lanes = ((PAVEMENT_Y + 2.0, 0.0), (ROAD_Y1 - 2.6, math.pi), (PAVEMENT_Y + 0.95, 0.0))
    for _ in range(int(rng.integers(0, 5))):
        lane_y, yaw = lanes[int(rng.integers(0, 3))]
        spot = placer.spot(_near_line(lane_y, 1.2), 3.0, 70)
        if spot is not None:
            solids.append(
                objects.car(
                    rng,
                    spot[0],
                    lane_y + float(rng.uniform(-0.3, 0.3)),
                    yaw + float(rng.uniform(-0.05, 0.05)),
                )
            )
    for _ in range(int(rng.integers(0, 3))):
        lane_y, yaw = lanes[int(rng.integers(0, 2))]
        spot = placer.spot(_near_line(lane_y, 1.2), 5.0, 80)
        if spot is not None:
            solids.append(
                objects.truck(
                    rng,
                    spot[0],
                    lane_y,
                    yaw + float(rng.uniform(-0.05, 0.05)),
                    covered=bool(rng.random() < 0.5),
                )
            )
    if rng.random() < 0.25:
        spot = placer.spot(in_site, 5.0, 80)
        if spot is not None:
            t = objects.truck(
                rng,
                spot[0],
                spot[1],
                float(rng.uniform(0, 2 * math.pi)),
                covered=bool(rng.random() < 0.5),
            )
            solids.append(Solid(t.name, t.faces, t.anchor, Layer.SITE, True, t.covered))
    for _ in range(int(rng.integers(0, 4))):
        radius = float(rng.uniform(2.0, 6.0))
        spot = placer.spot(in_site, radius, 80)
        if spot is None:
            continue
        heap = float(rng.uniform(0.8, 2.5)) if rng.random() < 0.5 else 0.0
        if rng.random() < 0.5:
            solids.append(objects.soil_patch(rng, spot[0], spot[1], radius=radius, heap=heap))
        else:
            solids.append(objects.dust_net(rng, spot[0], spot[1], radius=radius, heap=heap))
    solids += _people_at_doors(rng.spawn(1)[0], camera, visible_shops, solids, view_yaw)
    _ = (gate0, gate1)
    caption = (
        f"20{rng.integers(19, 26)}-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d} "
        f"{rng.integers(0, 24):02d}:{rng.integers(0, 60):02d}:{rng.integers(0, 60):02d}  "
        f"CAM{rng.integers(1, 40):02d}"
    )
    return Scene(camera, conditions, street, tuple(solids), caption)


def _people_at_doors(
    rng: np.random.Generator,
    camera: Camera,
    shops: list[Shop],
    placed: list[Solid],
    view_yaw: float,
) -> list[Solid]:
    """People standing in or just outside shop doors, beside goods and stalls, and in groups.

    Shopkeepers and customers stand where goods stand (a dark doorway, next to a rack),
    vendors stand at their stalls, and people walk in twos and threes; a detector that never
    saw them there learns that "something upright in a doorway" or a cluster of overlapping
    figures is goods. Drawn from ``rng`` (a child stream of the scene's), so the rest of the
    scene is the same with or without them.
    """
    people: list[Solid] = []
    for shop in shops[:3]:
        if rng.random() < 0.55:
            x = shop.door_x + float(rng.uniform(-0.5, 0.5)) * (shop.door_w + 0.8)
            y = float(rng.uniform(0.1, 1.4))
            standing = rng.random() < 0.7
            people.append(objects.person(rng, x, y, view_yaw, phase=0.0 if standing else None))
    for solid in placed:
        if solid.name not in ("goods", "stall") or rng.random() < 0.5:
            continue
        ax, ay = solid.anchor[0], solid.anchor[1]
        side = -1.0 if rng.random() < 0.5 else 1.0
        x = ax + side * float(rng.uniform(0.5, 1.4))
        y = ay + float(rng.uniform(-0.4, 0.8))
        if y > 0.1 and _visible(camera, (x, y, 1.0), 45.0):
            people.append(objects.person(rng, x, y, view_yaw, phase=0.0))
    for solid in placed:
        if solid.name != "person" or rng.random() < 0.6:
            continue
        px, py = solid.anchor[0], solid.anchor[1]
        for k in range(1 + int(rng.random() < 0.4)):
            side = 1.0 if k == 0 else -1.0
            x = px + side * float(rng.uniform(0.45, 0.9))
            y = max(0.1, py + float(rng.uniform(-0.5, 0.5)))
            people.append(objects.person(rng, x, y, view_yaw))
    return people


def _near_line(line_y: float, tolerance: float) -> Callable[[float, float], bool]:
    def accept(x: float, y: float) -> bool:
        return abs(y - line_y) < tolerance

    return accept


def _visible(camera: Camera, point: tuple[float, float, float], max_depth: float) -> bool:
    uv, depth = camera.project(np.array([point]))
    u, v = float(uv[0, 0]), float(uv[0, 1])
    return 0.5 < float(depth[0]) < max_depth and 0 <= u < camera.width and 0 <= v < camera.height


def render_scene(scene: Scene, rng: np.random.Generator, out_width: int) -> RenderedImage:
    """Draw a scene and downscale it to ``out_width`` pixels wide.

    Args:
        scene: The scene; its camera size is the drawing size (usually twice the output).
        rng: Random generator for textures, rain and noise.
        out_width: Width of the returned image; height keeps the aspect ratio.

    Returns:
        The image and its labels in output pixels.
    """
    cam = scene.camera
    canvas = Canvas(cam, scene.conditions, rng)
    canvas.draw(scene.street.solids + scene.objects)
    image = canvas.lit(scene.street.lamps)
    image = add_rain(image, scene.conditions.rain, rng)
    scale = out_width / cam.width
    out_height = round(cam.height * scale)
    if scale != 1.0:
        image = np.asarray(
            cv2.resize(image, (out_width, out_height), interpolation=cv2.INTER_AREA), dtype=np.uint8
        )
    labels = tuple(canvas.labels(scale, seen=image))
    image = add_sensor(image, scene.conditions, rng)
    if scene.conditions.overlay:
        image = add_overlay(image, scene.caption)
    return RenderedImage(image, labels)


def render_still(seed: int | tuple[int, ...], out_width: int) -> RenderedImage:
    """Render the still image of ``seed`` at ``out_width`` pixels wide (16:9 or 4:3)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    aspect = 9 / 16 if rng.random() < 0.7 else 3 / 4
    width = out_width * 2
    height = round(width * aspect)
    scene = sample_scene(rng, width, height)
    return render_scene(scene, rng, out_width)
