"""Unlabelled scenery: ground, road, shop facades with doors, the site hoarding, trees, lamps.

The street layout is fixed in world coordinates (metres):

* ``y = 0``: the shop facade; ``0 < y < PAVEMENT_Y``: the near pavement;
* ``PAVEMENT_Y < y < ROAD_Y1``: the road (two lanes);
* ``ROAD_Y1 < y < FENCE_Y``: the far pavement; ``y = FENCE_Y``: the site hoarding;
* ``y > FENCE_Y``: the construction site, then a far skyline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from training.scenes.geometry import (
    Color,
    Face,
    Frame2D,
    Layer,
    Solid,
    Texture,
    jitter_color,
    pick,
    pts,
    scale_color,
)
from training.scenes.palettes import FACADE, HOARDING, SIGN

PAVEMENT_Y = 4.0
ROAD_Y1 = 14.0
FENCE_Y = 16.0
SITE_FAR_Y = 70.0
STREET_X = 150.0


@dataclass(frozen=True, slots=True)
class Shop:
    """One shop unit on the facade.

    Attributes:
        x0: Left end along the street, metres.
        x1: Right end along the street, metres.
        door_x: Centre of its door, metres.
        door_w: Width of its door, metres.
    """

    x0: float
    x1: float
    door_x: float
    door_w: float


@dataclass(frozen=True, slots=True)
class Street:
    """The static layout of one scene.

    Attributes:
        shops: Shop units along the facade.
        site_x: ``(x0, x1)`` extent of the construction site along the street.
        gate_x: ``(x0, x1)`` of the gate opening in the hoarding.
        solids: All scenery solids.
        lamps: World positions of lamp heads (for night light pools).
    """

    shops: tuple[Shop, ...]
    site_x: tuple[float, float]
    gate_x: tuple[float, float]
    solids: tuple[Solid, ...]
    lamps: tuple[tuple[float, float, float], ...]


def _ground(x0: float, x1: float, y0: float, y1: float, color: Color, texture: Texture) -> Face:
    return Face(
        pts((x0, y0, 0), (x1, y0, 0), (x1, y1, 0), (x0, y1, 0)),
        color,
        shaded=False,
        texture=texture,
    )


def build_street(
    rng: np.random.Generator,
    *,
    night: bool,
    clear_of: tuple[float, float] | None = None,
) -> Street:
    """Sample the scenery of one scene.

    Args:
        rng: Random generator.
        night: Light the shop windows and lamps.
        clear_of: Ground point ``(x, y)`` (the camera pole) near which no lamp post or tree
            is put, so that none stands right in front of the lens.

    Returns:
        The street layout and its solids.
    """
    solids: list[Solid] = []
    asphalt = jitter_color(rng, (75, 75, 78), 12)
    paving = jitter_color(rng, pick(rng, [(150, 155, 160), (120, 130, 145), (165, 160, 150)]), 12)
    site_ground = jitter_color(
        rng, pick(rng, [(130, 140, 145), (115, 130, 140), (150, 150, 150)]), 10
    )
    ground_faces = [
        _ground(-1000.0, 1000.0, -2.0, 1000.0, scale_color(site_ground, 0.9), Texture.GRAIN),
        _ground(-STREET_X, STREET_X, -2.0, PAVEMENT_Y, paving, Texture.GRAIN),
        _ground(-STREET_X, STREET_X, PAVEMENT_Y, ROAD_Y1, asphalt, Texture.GRAIN),
        _ground(-STREET_X, STREET_X, ROAD_Y1, FENCE_Y, paving, Texture.GRAIN),
        _ground(-STREET_X, STREET_X, FENCE_Y, SITE_FAR_Y, site_ground, Texture.GRAIN),
        _ground(-STREET_X, STREET_X, PAVEMENT_Y - 0.15, PAVEMENT_Y, (170, 170, 170), Texture.NONE),
        _ground(-STREET_X, STREET_X, ROAD_Y1, ROAD_Y1 + 0.15, (170, 170, 170), Texture.NONE),
        _ground(
            -STREET_X, STREET_X, PAVEMENT_Y + 0.35, PAVEMENT_Y + 0.5, (200, 200, 200), Texture.NONE
        ),
        _ground(-STREET_X, STREET_X, ROAD_Y1 - 0.5, ROAD_Y1 - 0.35, (200, 200, 200), Texture.NONE),
    ]
    mid = (PAVEMENT_Y + ROAD_Y1) / 2
    centre = (40, 200, 230) if rng.random() < 0.4 else (210, 210, 210)
    for x in np.arange(-STREET_X, STREET_X, 9.0):
        ground_faces.append(
            _ground(float(x), float(x) + 4.0, mid - 0.08, mid + 0.08, centre, Texture.NONE)
        )
    if rng.random() < 0.5:
        cx = float(rng.uniform(-15, 15))
        for k in range(12):
            yy = PAVEMENT_Y + 0.6 + k * 0.75
            ground_faces.append(_ground(cx, cx + 3.0, yy, yy + 0.4, (210, 210, 210), Texture.NONE))
    solids.append(
        Solid("", tuple(ground_faces), (0.0, 5.0, 0.0), layer=Layer.GROUND, casts_shadow=False)
    )

    skyline: list[Face] = []
    x = -STREET_X * 2
    while x < STREET_X * 2:
        w = float(rng.uniform(15, 40))
        h = float(rng.uniform(15, 60))
        col = jitter_color(rng, (150, 150, 150), 25)
        skyline.append(
            Face(
                pts(
                    (x, SITE_FAR_Y + 30, 0),
                    (x + w, SITE_FAR_Y + 30, 0),
                    (x + w, SITE_FAR_Y + 30, h),
                    (x, SITE_FAR_Y + 30, h),
                ),
                col,
            )
        )
        x += w
    solids.append(
        Solid(
            "",
            tuple(skyline),
            (0.0, SITE_FAR_Y + 30, 0.0),
            layer=Layer.BACKDROP,
            casts_shadow=False,
        )
    )

    shops: list[Shop] = []
    facade_faces: list[Face] = []
    floors = int(rng.integers(1, 5))
    top = 4.2 + floors * 3.0
    wall = pick(rng, FACADE)
    facade_faces.append(
        Face(
            pts((-STREET_X, 0, 0), (STREET_X, 0, 0), (STREET_X, 0, top), (-STREET_X, 0, top)), wall
        )
    )
    x = -STREET_X
    while x < STREET_X:
        w = float(rng.uniform(4.0, 9.0))
        x0, x1 = x + 0.3, x + w - 0.3
        door_w = float(rng.uniform(1.2, min(2.6, w - 1.5)))
        door_x = float(rng.uniform(x0 + door_w / 2 + 0.2, x1 - door_w / 2 - 0.2))
        shops.append(Shop(x0, x1, door_x, door_w))
        front = jitter_color(
            rng, pick(rng, [(60, 60, 60), (200, 200, 200), (90, 80, 70), (150, 150, 160)]), 10
        )
        glass = jitter_color(rng, (110, 95, 80), 15)
        sign = pick(rng, SIGN)
        facade_faces.append(
            Face(pts((x0, -0.01, 0), (x1, -0.01, 0), (x1, -0.01, 3.0), (x0, -0.01, 3.0)), front)
        )
        facade_faces.append(
            Face(
                pts(
                    (x0 + 0.2, -0.02, 0.5),
                    (x1 - 0.2, -0.02, 0.5),
                    (x1 - 0.2, -0.02, 2.8),
                    (x0 + 0.2, -0.02, 2.8),
                ),
                glass,
                emissive=night and rng.random() < 0.8,
                shaded=False,
            )
        )
        shutter = rng.random() < 0.2
        door_col = (150, 150, 155) if shutter else jitter_color(rng, (45, 40, 35), 10)
        facade_faces.append(
            Face(
                pts(
                    (door_x - door_w / 2, -0.03, 0),
                    (door_x + door_w / 2, -0.03, 0),
                    (door_x + door_w / 2, -0.03, 2.6),
                    (door_x - door_w / 2, -0.03, 2.6),
                ),
                door_col,
                emissive=night and not shutter and rng.random() < 0.6,
            )
        )
        facade_faces.append(
            Face(
                pts((x0, -0.04, 3.0), (x1, -0.04, 3.0), (x1, -0.04, 4.0), (x0, -0.04, 4.0)),
                sign,
                emissive=night and rng.random() < 0.7,
            )
        )
        for _ in range(int(rng.integers(1, 4))):
            tx = float(rng.uniform(x0 + 0.3, x1 - 1.2))
            facade_faces.append(
                Face(
                    pts(
                        (tx, -0.05, 3.25),
                        (tx + 0.8, -0.05, 3.25),
                        (tx + 0.8, -0.05, 3.75),
                        (tx, -0.05, 3.75),
                    ),
                    scale_color(sign, 0.4) if sum(sign) > 400 else (235, 235, 235),
                )
            )
        if rng.random() < 0.3:
            aw = pick(rng, SIGN)
            facade_faces.append(
                Face(pts((x0, -0.05, 2.95), (x1, -0.05, 2.95), (x1, 1.0, 2.6), (x0, 1.0, 2.6)), aw)
            )
        for fl in range(floors):
            z = 4.8 + fl * 3.0
            for wx in np.arange(x0 + 0.6, x1 - 1.0, 2.2):
                facade_faces.append(
                    Face(
                        pts(
                            (wx, -0.02, z),
                            (wx + 1.3, -0.02, z),
                            (wx + 1.3, -0.02, z + 1.5),
                            (wx, -0.02, z + 1.5),
                        ),
                        (100, 90, 80),
                        emissive=night and rng.random() < 0.3,
                    )
                )
        x += w
    solids.append(
        Solid("", tuple(facade_faces), (0.0, 0.0, 0.0), layer=Layer.BACKDROP, casts_shadow=True)
    )

    site0 = float(rng.uniform(-120, -20))
    site1 = float(rng.uniform(20, 120))
    gate0 = float(rng.uniform(site0 + 5, site1 - 15))
    gate_x = (gate0, gate0 + float(rng.uniform(6, 10)))
    fence_h = float(rng.uniform(2.0, 2.6))
    panel = pick(rng, HOARDING)
    fence_faces: list[Face] = []
    for a, b in ((site0, gate_x[0]), (gate_x[1], site1)):
        fence_faces.append(
            Face(
                pts((a, FENCE_Y, 0), (b, FENCE_Y, 0), (b, FENCE_Y, fence_h), (a, FENCE_Y, fence_h)),
                panel,
            )
        )
        fence_faces.append(
            Face(
                pts(
                    (a, FENCE_Y - 0.01, fence_h - 0.3),
                    (b, FENCE_Y - 0.01, fence_h - 0.3),
                    (b, FENCE_Y - 0.01, fence_h),
                    (a, FENCE_Y - 0.01, fence_h),
                ),
                (230, 230, 230),
            )
        )
        for px in np.arange(a, b, 2.0):
            fence_faces.append(
                Face(
                    pts(
                        (px, FENCE_Y - 0.02, 0),
                        (px + 0.08, FENCE_Y - 0.02, 0),
                        (px + 0.08, FENCE_Y - 0.02, fence_h),
                        (px, FENCE_Y - 0.02, fence_h),
                    ),
                    scale_color(panel, 0.7),
                )
            )
    solids.append(
        Solid("", tuple(fence_faces), (0.0, FENCE_Y, 0.0), layer=Layer.FENCE, casts_shadow=False)
    )

    for _ in range(int(rng.integers(0, 3))):
        solids.append(_container(rng, float(rng.uniform(site0, site1)), float(rng.uniform(40, 60))))
    if rng.random() < 0.5:
        solids.append(
            _excavator(rng, float(rng.uniform(site0 + 5, site1 - 5)), float(rng.uniform(30, 55)))
        )

    lamps: list[tuple[float, float, float]] = []
    spacing = float(rng.uniform(18, 30))
    offset = float(rng.uniform(0, spacing))
    for lx in np.arange(-STREET_X + offset, STREET_X, spacing):
        for ly in (PAVEMENT_Y - 0.5, ROAD_Y1 + 0.5):
            if clear_of is not None and math.hypot(lx - clear_of[0], ly - clear_of[1]) < 6.0:
                continue
            solids.append(_lamp(float(lx), ly, night))
            lamps.append((float(lx), ly + (1.5 if ly < mid else -1.5), 7.5))
    if rng.random() < 0.6:
        tspace = float(rng.uniform(7, 14))
        toff = float(rng.uniform(0, tspace))
        for tx in np.arange(-STREET_X + toff, STREET_X, tspace):
            if rng.random() < 0.8:
                tree = _tree(rng, float(tx), PAVEMENT_Y - 0.8)
                if (
                    clear_of is None
                    or math.hypot(tx - clear_of[0], PAVEMENT_Y - 0.8 - clear_of[1]) >= 6.0
                ):
                    solids.append(tree)
    return Street(tuple(shops), (site0, site1), gate_x, tuple(solids), tuple(lamps))


def _lamp(x: float, y: float, night: bool) -> Solid:
    f = Frame2D(x, y, 0.0)
    toward = 1.5 if y < (PAVEMENT_Y + ROAD_Y1) / 2 else -1.5
    faces = f.box(-0.08, 0.08, -0.08, 0.08, 0.0, 7.6, (90, 95, 100))
    arm = f.box(-0.05, 0.05, min(0.0, toward), max(0.0, toward), 7.5, 7.6, (90, 95, 100))
    head = f.box(-0.2, 0.2, toward - 0.3, toward + 0.3, 7.4, 7.5, (220, 230, 240))
    head = [Face(face.points, face.color, emissive=night, shaded=False) for face in head]
    return Solid("", tuple(faces + arm + head), (x, y, 0.0))


def _tree(rng: np.random.Generator, x: float, y: float) -> Solid:
    f = Frame2D(x, y, 0.0)
    h = float(rng.uniform(4.0, 7.0))
    faces = f.box(-0.12, 0.12, -0.12, 0.12, 0.0, h * 0.55, (50, 70, 90))
    green = jitter_color(rng, (50, 110, 60), 20)
    r = float(rng.uniform(1.3, 2.2))
    for k in range(3):
        cz = h * (0.6 + 0.15 * k)
        rr = r * (1.0 - 0.25 * k)
        ring = [
            f.world(
                rr * math.cos(a) * rng.uniform(0.8, 1.1),
                rr * math.sin(a) * rng.uniform(0.8, 1.1),
                cz + rng.uniform(-0.3, 0.3),
            )
            for a in np.linspace(0, 2 * math.pi, 11)[:-1]
        ]
        apex = f.world(0, 0, cz + rr * 0.8)
        for i in range(10):
            faces.append(
                Face(
                    pts(ring[i], ring[(i + 1) % 10], apex),
                    scale_color(green, 0.85 + 0.05 * (i % 3)),
                )
            )
    return Solid("", tuple(faces), (x, y, 0.0))


def _container(rng: np.random.Generator, x: float, y: float) -> Solid:
    f = Frame2D(x, y, float(rng.uniform(-0.2, 0.2)))
    color = pick(rng, [(170, 110, 40), (220, 220, 220), (60, 60, 160)])
    faces = f.box(-3.0, 3.0, -1.2, 1.2, 0.0, 2.6, color)
    return Solid("", tuple(faces), (x, y, 0.0), layer=Layer.SITE)


def _excavator(rng: np.random.Generator, x: float, y: float) -> Solid:
    f = Frame2D(x, y, float(rng.uniform(0, 2 * math.pi)))
    yellow = jitter_color(rng, (30, 180, 230), 15)
    faces = f.box(-2.0, 2.0, -1.4, -0.7, 0.0, 0.9, (40, 40, 40))
    faces += f.box(-2.0, 2.0, 0.7, 1.4, 0.0, 0.9, (40, 40, 40))
    faces += f.box(-1.6, 1.4, -1.3, 1.3, 0.9, 2.0, yellow)
    faces += f.box(0.2, 1.4, -1.3, -0.2, 2.0, 3.0, yellow)
    faces.append(
        Face(f.quad((1.4, -0.1, 1.6), (1.4, 0.1, 1.6), (4.0, 0.1, 3.8), (4.0, -0.1, 3.8)), yellow)
    )
    faces.append(
        Face(f.quad((4.0, -0.1, 3.8), (4.0, 0.1, 3.8), (5.5, 0.1, 0.6), (5.5, -0.1, 0.6)), yellow)
    )
    return Solid("", tuple(faces), (x, y, 0.0), layer=Layer.SITE)
