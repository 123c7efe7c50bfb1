"""Builders for the labelled objects: people, cars, trucks, stalls, goods, soil and nets.

Each builder takes a random generator and a placement on the ground and returns one
:class:`~training.scenes.geometry.Solid` whose ``name`` is its class. Sizes are in metres and
follow real objects (a person 1.55-1.9 m, a car 4.2-4.9 m long, a muck truck 7.5-9 m).
"""

from __future__ import annotations

import math

import numpy as np

from training.scenes.geometry import (
    Color,
    Face,
    Frame2D,
    Layer,
    Solid,
    Texture,
    ground_polygon,
    jitter_color,
    pick,
    pts,
    scale_color,
)

SKIN: list[Color] = [(150, 180, 220), (120, 150, 195), (90, 120, 170), (170, 195, 230)]
HAIR: list[Color] = [(20, 20, 25), (30, 35, 45), (60, 70, 90), (140, 140, 140)]
CLOTHES: list[Color] = [
    (40, 40, 40),
    (200, 200, 200),
    (60, 50, 160),
    (150, 90, 40),
    (40, 120, 40),
    (30, 160, 200),
    (120, 60, 120),
    (90, 90, 90),
    (170, 140, 100),
    (20, 30, 120),
    (230, 230, 235),
    (60, 100, 180),
]
TROUSERS: list[Color] = [(30, 30, 35), (90, 60, 40), (60, 60, 60), (120, 110, 100), (40, 50, 80)]
CAR_PAINT: list[Color] = [
    (235, 235, 235),
    (20, 20, 20),
    (160, 160, 165),
    (110, 110, 115),
    (40, 40, 170),
    (140, 80, 30),
    (60, 110, 60),
    (200, 205, 210),
    (30, 60, 110),
    (90, 40, 20),
]
TRUCK_PAINT: list[Color] = [
    (60, 140, 60),
    (30, 180, 230),
    (220, 220, 220),
    (150, 90, 30),
    (40, 50, 190),
    (40, 120, 200),
]
TARP: list[Color] = [
    (60, 120, 40),
    (140, 90, 30),
    (40, 40, 40),
    (110, 110, 100),
    (70, 150, 70),
    (160, 120, 40),
]
SOIL: list[Color] = [(60, 95, 135), (55, 85, 120), (70, 105, 150), (45, 75, 110), (80, 115, 150)]
NET_GREEN: list[Color] = [(50, 130, 40), (40, 110, 35), (70, 150, 60), (55, 120, 70), (35, 95, 30)]
CANOPY: list[Color] = [
    (40, 40, 200),
    (200, 110, 30),
    (40, 160, 40),
    (30, 200, 230),
    (240, 240, 240),
    (50, 90, 220),
    (170, 60, 150),
    (30, 140, 240),
]
GOODS: list[Color] = [
    (40, 60, 200),
    (40, 180, 230),
    (60, 160, 60),
    (200, 120, 40),
    (230, 230, 230),
    (80, 80, 200),
    (30, 130, 230),
    (150, 60, 150),
    (100, 170, 200),
    (70, 110, 160),
    (200, 200, 90),
]
CARTON: list[Color] = [(80, 130, 170), (90, 140, 180), (70, 115, 150), (110, 160, 200)]


def billboard(x: float, y: float, view_yaw: float) -> Frame2D:
    """A frame at ``(x, y)`` whose ``u`` axis is the camera's right, for flat figures."""
    return Frame2D(x, y, view_yaw - math.pi / 2.0)


def person(
    rng: np.random.Generator,
    x: float,
    y: float,
    view_yaw: float,
    *,
    phase: float | None = None,
    umbrella: bool | None = None,
    key: str = "",
) -> Solid:
    """A standing or walking person, drawn as a figure facing the camera.

    Args:
        rng: Random generator for size, clothes and pose.
        x: Ground position along the street, metres.
        y: Ground position across the street, metres.
        view_yaw: The camera's yaw in radians (the figure faces it).
        phase: Walking phase in radians; ``None`` picks one at random.
        umbrella: Carry an umbrella; ``None`` picks at random (rarely).
        key: Identity across video frames.
    """
    f = billboard(x, y, view_yaw)
    h = float(rng.uniform(1.55, 1.88))
    shirt = jitter_color(rng, pick(rng, CLOTHES))
    legs = jitter_color(rng, pick(rng, TROUSERS), 10)
    skin = pick(rng, SKIN)
    hair = pick(rng, HAIR)
    ph = float(rng.uniform(0, 2 * math.pi)) if phase is None else phase
    stride = 0.14 * math.sin(ph)
    hip = 0.48 * h
    shoulder = 0.82 * h
    hw = 0.2 * h / 1.7
    faces = [
        Face(
            f.quad(
                (-hw + 0.02 - stride, 0, 0),
                (-0.02 - stride, 0, 0),
                (-0.01, 0, hip),
                (-hw + 0.03, 0, hip),
            ),
            legs,
        ),
        Face(
            f.quad(
                (0.02 + stride, 0, 0),
                (hw - 0.02 + stride, 0, 0),
                (hw - 0.03, 0, hip),
                (0.01, 0, hip),
            ),
            scale_color(legs, 0.85),
        ),
        Face(
            f.quad(
                (-hw, 0, hip - 0.03),
                (hw, 0, hip - 0.03),
                (hw + 0.02, 0, shoulder),
                (-hw - 0.02, 0, shoulder),
            ),
            shirt,
        ),
        Face(
            f.quad(
                (-hw - 0.1, 0, hip + 0.04),
                (-hw - 0.01, 0, hip + 0.04),
                (-hw - 0.01, 0, shoulder),
                (-hw - 0.08, 0, shoulder),
            ),
            scale_color(shirt, 0.8),
        ),
        Face(
            f.quad(
                (hw + 0.01, 0, hip + 0.04),
                (hw + 0.1, 0, hip + 0.04),
                (hw + 0.08, 0, shoulder),
                (hw + 0.01, 0, shoulder),
            ),
            scale_color(shirt, 0.8),
        ),
    ]
    head_r = 0.115 * h / 1.7
    head_z = h - head_r
    faces.append(f.vdisc(0, 0, head_z, head_r, skin, n=10))
    faces.append(
        Face(
            pts(
                *(
                    f.world(head_r * math.cos(a), 0.001, head_z + head_r * math.sin(a))
                    for a in np.linspace(0.0, math.pi, 7)
                )
            ),
            hair,
        )
    )
    use_umbrella = bool(rng.random() < 0.08) if umbrella is None else umbrella
    if use_umbrella:
        color = pick(rng, CANOPY)
        ring = [
            f.world(0.5 * math.cos(a), 0.5 * math.sin(a), h + 0.2)
            for a in np.linspace(0, 2 * math.pi, 9)[:-1]
        ]
        top = f.world(0, 0, h + 0.4)
        for i in range(8):
            faces.append(
                Face(pts(ring[i], ring[(i + 1) % 8], top), scale_color(color, 0.9 + 0.1 * (i % 2)))
            )
    return Solid("person", tuple(faces), (x, y, 0.0), key=key)


def car(
    rng: np.random.Generator,
    x: float,
    y: float,
    yaw: float,
    *,
    key: str = "",
) -> Solid:
    """A car (saloon, SUV or van) centred at ``(x, y)`` heading ``yaw`` radians."""
    f = Frame2D(x, y, yaw)
    kind = int(rng.integers(0, 3))
    length = float(rng.uniform(4.2, 4.9)) if kind < 2 else float(rng.uniform(4.5, 5.2))
    width = float(rng.uniform(1.72, 1.9))
    paint = jitter_color(rng, pick(rng, CAR_PAINT), 10)
    glass = (60, 50, 40) if rng.random() < 0.7 else (90, 80, 70)
    l2, w2 = length / 2, width / 2
    body_top = 0.85 if kind == 0 else 0.95
    roof = 1.45 if kind == 0 else (1.7 if kind == 1 else 1.95)
    faces: list[Face] = []
    for u in (-l2 + 0.75, l2 - 0.8):
        for v in (-w2 - 0.001, w2 + 0.001):
            faces.append(f.vdisc(u, v, 0.32, 0.32, (25, 25, 25), n=10))
    faces += f.box(-l2, l2, -w2, w2, 0.22, body_top, paint)
    if kind == 2:
        faces += f.box(-l2, l2 - 1.0, -w2 + 0.05, w2 - 0.05, body_top, roof, paint)
        faces.append(
            Face(
                f.quad(
                    (l2 - 1.0, -w2 + 0.1, body_top + 0.05),
                    (l2 - 1.0, w2 - 0.1, body_top + 0.05),
                    (l2 - 1.0, w2 - 0.1, roof - 0.1),
                    (l2 - 1.0, -w2 + 0.1, roof - 0.1),
                ),
                glass,
            )
        )
    else:
        back = -l2 + (0.9 if kind == 0 else 0.4)
        front = l2 - 1.3
        faces += [
            Face(
                f.quad(
                    (back, -w2 + 0.1, body_top),
                    (front, -w2 + 0.1, body_top),
                    (front - 0.5, -w2 + 0.2, roof),
                    (back + 0.35, -w2 + 0.2, roof),
                ),
                glass,
            ),
            Face(
                f.quad(
                    (back, w2 - 0.1, body_top),
                    (front, w2 - 0.1, body_top),
                    (front - 0.5, w2 - 0.2, roof),
                    (back + 0.35, w2 - 0.2, roof),
                ),
                glass,
            ),
            Face(
                f.quad(
                    (front, -w2 + 0.1, body_top),
                    (front, w2 - 0.1, body_top),
                    (front - 0.5, w2 - 0.2, roof),
                    (front - 0.5, -w2 + 0.2, roof),
                ),
                scale_color(glass, 1.2),
            ),
            Face(
                f.quad(
                    (back, -w2 + 0.1, body_top),
                    (back, w2 - 0.1, body_top),
                    (back + 0.35, w2 - 0.2, roof),
                    (back + 0.35, -w2 + 0.2, roof),
                ),
                glass,
            ),
            Face(
                f.quad(
                    (back + 0.35, -w2 + 0.2, roof),
                    (front - 0.5, -w2 + 0.2, roof),
                    (front - 0.5, w2 - 0.2, roof),
                    (back + 0.35, w2 - 0.2, roof),
                ),
                paint,
            ),
        ]
    for v in (-w2 + 0.15, w2 - 0.45):
        faces.append(
            Face(
                f.quad(
                    (l2 + 0.005, v, 0.6),
                    (l2 + 0.005, v + 0.3, 0.6),
                    (l2 + 0.005, v + 0.3, 0.75),
                    (l2 + 0.005, v, 0.75),
                ),
                (200, 235, 245),
                emissive=True,
                shaded=False,
            )
        )
        faces.append(
            Face(
                f.quad(
                    (-l2 - 0.005, v, 0.65),
                    (-l2 - 0.005, v + 0.3, 0.65),
                    (-l2 - 0.005, v + 0.3, 0.8),
                    (-l2 - 0.005, v, 0.8),
                ),
                (30, 30, 200),
                emissive=True,
                shaded=False,
            )
        )
    return Solid("car", tuple(faces), (x, y, 0.0), key=key)


def truck(
    rng: np.random.Generator,
    x: float,
    y: float,
    yaw: float,
    *,
    covered: bool,
    key: str = "",
) -> Solid:
    """A muck (dump) truck whose load is covered by a tarpaulin or open to the sky.

    Args:
        rng: Random generator for size and colours.
        x: Centre along the street, metres.
        y: Centre across the street, metres.
        yaw: Heading in radians (the cab is at the front).
        covered: Whether the load is covered; recorded on the solid.
        key: Identity across video frames.
    """
    f = Frame2D(x, y, yaw)
    length = float(rng.uniform(7.5, 9.0))
    width = float(rng.uniform(2.4, 2.55))
    l2, w2 = length / 2, width / 2
    paint = jitter_color(rng, pick(rng, TRUCK_PAINT), 12)
    bed_paint = paint if rng.random() < 0.6 else jitter_color(rng, pick(rng, TRUCK_PAINT), 12)
    faces: list[Face] = []
    for u in (l2 - 1.3, -l2 + 2.6, -l2 + 1.3):
        for v in (-w2 - 0.001, w2 + 0.001):
            faces.append(f.vdisc(u, v, 0.5, 0.5, (25, 25, 25), n=12))
    faces += f.box(-l2, l2, -w2 + 0.2, w2 - 0.2, 0.5, 1.1, (40, 40, 40))
    cab0 = l2 - 2.3
    faces += f.box(cab0, l2, -w2, w2, 0.9, 3.0, paint)
    faces.append(
        Face(
            f.quad(
                (l2 + 0.01, -w2 + 0.15, 2.0),
                (l2 + 0.01, w2 - 0.15, 2.0),
                (l2 + 0.01, w2 - 0.15, 2.85),
                (l2 + 0.01, -w2 + 0.15, 2.85),
            ),
            (70, 60, 50),
        )
    )
    for v in (-w2 - 0.01, w2 + 0.01):
        faces.append(
            Face(
                f.quad(
                    (l2 - 1.1, v, 1.9), (l2 - 0.1, v, 1.9), (l2 - 0.1, v, 2.8), (l2 - 1.1, v, 2.8)
                ),
                (70, 60, 50),
            )
        )
    for v in (-w2 + 0.2, w2 - 0.6):
        faces.append(
            Face(
                f.quad(
                    (l2 + 0.01, v, 1.1),
                    (l2 + 0.01, v + 0.4, 1.1),
                    (l2 + 0.01, v + 0.4, 1.3),
                    (l2 + 0.01, v, 1.3),
                ),
                (200, 235, 245),
                emissive=True,
                shaded=False,
            )
        )
    rim = float(rng.uniform(2.4, 2.8))
    bed0, bed1 = -l2, cab0 - 0.15
    faces += f.box(bed0, bed1, -w2, w2, 1.1, rim, bed_paint, top=scale_color(bed_paint, 0.6))
    for u in np.linspace(bed0 + 0.6, bed1 - 0.6, 4):
        for v in (-w2 - 0.01, w2 + 0.01):
            faces.append(
                Face(
                    f.quad((u, v, 1.15), (u + 0.12, v, 1.15), (u + 0.12, v, rim), (u, v, rim)),
                    scale_color(bed_paint, 0.7),
                )
            )
    if covered:
        tarp = jitter_color(rng, pick(rng, TARP), 10)
        ridge = rim + float(rng.uniform(0.1, 0.35))
        faces.append(
            Face(
                f.quad(
                    (bed0 - 0.05, -w2 - 0.05, rim - 0.1),
                    (bed1 + 0.05, -w2 - 0.05, rim - 0.1),
                    (bed1 + 0.05, 0, ridge),
                    (bed0 - 0.05, 0, ridge),
                ),
                tarp,
            )
        )
        faces.append(
            Face(
                f.quad(
                    (bed0 - 0.05, w2 + 0.05, rim - 0.1),
                    (bed1 + 0.05, w2 + 0.05, rim - 0.1),
                    (bed1 + 0.05, 0, ridge),
                    (bed0 - 0.05, 0, ridge),
                ),
                scale_color(tarp, 0.9),
            )
        )
        for u in np.linspace(bed0 + 0.5, bed1 - 0.5, 5):
            for side in (-1.0, 1.0):
                faces.append(
                    Face(
                        f.quad(
                            (u, side * (w2 + 0.06), rim - 0.1),
                            (u + 0.06, side * (w2 + 0.06), rim - 0.1),
                            (u + 0.06, 0, ridge + 0.01),
                            (u, 0, ridge + 0.01),
                        ),
                        scale_color(tarp, 0.55),
                    )
                )
    else:
        soil = jitter_color(rng, pick(rng, SOIL), 12)
        peak = rim + float(rng.uniform(0.2, 0.6))
        pu = float(rng.uniform(bed0 + 1.2, bed1 - 1.2))
        corners = [
            (bed0 + 0.05, -w2 + 0.05, rim - 0.05),
            (bed1 - 0.05, -w2 + 0.05, rim - 0.05),
            (bed1 - 0.05, w2 - 0.05, rim - 0.05),
            (bed0 + 0.05, w2 - 0.05, rim - 0.05),
        ]
        apex = (pu, float(rng.uniform(-0.3, 0.3)), peak)
        for i in range(4):
            faces.append(
                Face(
                    f.quad(corners[i], corners[(i + 1) % 4], apex, apex)[:3],
                    scale_color(soil, 0.85 + 0.08 * i),
                    texture=Texture.SOIL,
                )
            )
    return Solid("truck", tuple(faces), (x, y, 0.0), covered=covered, key=key)


def _goods_on(
    rng: np.random.Generator,
    f: Frame2D,
    u0: float,
    u1: float,
    v0: float,
    v1: float,
    z: float,
    count: int,
    size: float = 0.22,
) -> list[Face]:
    """Small coloured items (fruit crates, packets, clothes piles) on a surface."""
    faces: list[Face] = []
    for _ in range(count):
        s = size * float(rng.uniform(0.6, 1.3))
        u = float(rng.uniform(u0, max(u0, u1 - s)))
        v = float(rng.uniform(v0, max(v0, v1 - s)))
        hz = s * float(rng.uniform(0.4, 1.2))
        faces += f.box(u, u + s, v, v + s, z, z + hz, jitter_color(rng, pick(rng, GOODS), 25))
    return faces


def stall(
    rng: np.random.Generator,
    x: float,
    y: float,
    yaw: float,
    *,
    variant: int | None = None,
    open_frac: float = 1.0,
    key: str = "",
) -> Solid:
    """A street vending stall: umbrella with a table, tricycle cart, or tarpaulin with goods.

    Args:
        rng: Random generator for size and colours.
        x: Centre along the street, metres.
        y: Centre across the street, metres.
        yaw: Heading in radians.
        variant: 0 umbrella and table, 1 tricycle cart, 2 tarpaulin on the ground; ``None``
            picks one.
        open_frac: How far the umbrella is opened (0..1), for set-up animations.
        key: Identity across video frames.
    """
    f = Frame2D(x, y, yaw)
    kind = int(rng.integers(0, 3)) if variant is None else variant
    faces: list[Face] = []
    if kind == 0:
        tw, td = float(rng.uniform(1.0, 1.6)), float(rng.uniform(0.6, 0.9))
        cloth = jitter_color(rng, pick(rng, [*CANOPY, (200, 200, 200), (60, 60, 60)]), 15)
        faces += f.box(-tw / 2, tw / 2, -td / 2, td / 2, 0.0, 0.75, cloth)
        faces += _goods_on(rng, f, -tw / 2, tw / 2, -td / 2, td / 2, 0.75, int(rng.integers(5, 11)))
        if rng.random() < 0.5:
            faces += f.box(
                -0.3 - tw / 2 - 0.6, -tw / 2 - 0.6 + 0.2, 0.3, 0.8, 0.0, 0.45, (40, 40, 180)
            )
        pole_top = float(rng.uniform(2.1, 2.5))
        faces.append(
            Face(
                f.quad(
                    (0.1, -0.03, 0.75),
                    (0.1, 0.03, 0.75),
                    (0.1, 0.03, pole_top),
                    (0.1, -0.03, pole_top),
                ),
                (200, 200, 200),
            )
        )
        radius = float(rng.uniform(1.0, 1.45)) * max(0.2, open_frac)
        c1 = pick(rng, CANOPY)
        c2 = (240, 240, 240) if rng.random() < 0.5 else c1
        n = 8
        drop = 0.45 * open_frac + 0.05
        ring = [
            f.world(0.1 + radius * math.cos(a), radius * math.sin(a), pole_top - drop)
            for a in np.linspace(0, 2 * math.pi, n + 1)[:-1]
        ]
        apex = f.world(0.1, 0, pole_top + 0.1)
        for i in range(n):
            faces.append(Face(pts(ring[i], ring[(i + 1) % n], apex), c1 if i % 2 == 0 else c2))
    elif kind == 1:
        body = jitter_color(
            rng, pick(rng, [(150, 110, 40), (180, 180, 180), (40, 40, 160), (60, 120, 60)]), 15
        )
        faces += [
            f.vdisc(-0.5, -0.55, 0.3, 0.3, (30, 30, 30)),
            f.vdisc(-0.5, 0.55, 0.3, 0.3, (30, 30, 30)),
            f.vdisc(1.1, 0.0, 0.3, 0.3, (30, 30, 30)),
        ]
        faces += f.box(-1.1, 0.4, -0.6, 0.6, 0.45, 0.95, body, top=scale_color(body, 0.8))
        faces += _goods_on(rng, f, -1.05, 0.35, -0.55, 0.55, 0.95, int(rng.integers(5, 12)), 0.25)
        faces += f.box(0.45, 1.15, -0.05, 0.05, 0.5, 0.85, (50, 50, 50))
        faces += f.box(0.95, 1.05, -0.35, 0.35, 0.95, 1.05, (50, 50, 50))
        if rng.random() < 0.6:
            canopy = pick(rng, CANOPY)
            faces += f.box(-1.1, -1.05, -0.6, -0.55, 0.95, 1.9, (190, 190, 190))
            faces += f.box(0.35, 0.4, 0.55, 0.6, 0.95, 1.9, (190, 190, 190))
            faces.append(
                Face(
                    f.quad(
                        (-1.25, -0.75, 1.9),
                        (0.55, -0.75, 1.9),
                        (0.55, 0.75, 1.95),
                        (-1.25, 0.75, 1.95),
                    ),
                    canopy,
                )
            )
    else:
        tarp = jitter_color(
            rng, pick(rng, [(160, 90, 30), (40, 40, 160), (60, 130, 60), (150, 150, 150)]), 15
        )
        tl, tw = float(rng.uniform(1.6, 2.4)), float(rng.uniform(1.1, 1.6))
        faces.append(
            Face(
                f.quad(
                    (-tl / 2, -tw / 2, 0.02),
                    (tl / 2, -tw / 2, 0.02),
                    (tl / 2, tw / 2, 0.02),
                    (-tl / 2, tw / 2, 0.02),
                ),
                tarp,
                shaded=False,
            )
        )
        faces += _goods_on(
            rng,
            f,
            -tl / 2 + 0.1,
            tl / 2 - 0.1,
            -tw / 2 + 0.1,
            tw / 2 - 0.1,
            0.02,
            int(rng.integers(10, 20)),
            0.3,
        )
        if rng.random() < 0.5:
            faces += f.box(
                -tl / 2 + 0.1, -tl / 2 + 0.7, -tw / 2 - 0.6, -tw / 2 - 0.1, 0.0, 0.4, (50, 50, 170)
            )
    return Solid("stall", tuple(faces), (x, y, 0.0), key=key)


def goods(
    rng: np.random.Generator,
    x: float,
    y: float,
    *,
    variant: int | None = None,
    key: str = "",
) -> Solid:
    """Goods put out in front of a shop door (cross-door trading).

    A cluster 1.8-3.6 m long along the facade (the ``x`` axis), centred at ``(x, y)``, of two
    to four pieces side by side: shelving racks full of packets, stacks of printed cartons,
    crates of produce, a table of goods, or a rail of hanging clothes. ``variant`` 0 starts
    the cluster with a rack, 1 with cartons, 2 with produce crates; ``None`` mixes freely.
    """
    f = Frame2D(x, y, 0.0)
    pieces = int(rng.integers(2, 5))
    kinds = [int(rng.integers(0, 5)) for _ in range(pieces)]
    if variant is not None:
        kinds[0] = variant
    widths = [float(rng.uniform(0.7, 1.1)) for _ in kinds]
    gap = 0.1
    u = -(sum(widths) + gap * (len(widths) - 1)) / 2
    faces: list[Face] = []
    for kind, w in zip(kinds, widths, strict=True):
        faces += _goods_piece(rng, f, kind, u, u + w)
        u += w + gap
    return Solid("goods", tuple(faces), (x, y, 0.0), key=key)


def _goods_piece(
    rng: np.random.Generator, f: Frame2D, kind: int, u0: float, u1: float
) -> list[Face]:
    faces: list[Face] = []
    if kind == 0:  # shelving rack full of packets
        d, h = float(rng.uniform(0.4, 0.6)), float(rng.uniform(1.3, 1.9))
        metal = pick(rng, [(170, 170, 170), (60, 60, 60), (190, 190, 200), (40, 120, 200)])
        for u in (u0, u1 - 0.05):
            for v in (-d / 2, d / 2 - 0.05):
                faces += f.box(u, u + 0.05, v, v + 0.05, 0.0, h, metal)
        shelves = int(rng.integers(3, 6))
        for k in range(shelves):
            z = 0.1 + k * (h - 0.15) / shelves
            faces += f.box(u0, u1, -d / 2, d / 2, z, z + 0.03, metal)
            faces += _goods_on(
                rng, f, u0, u1, -d / 2, d / 2, z + 0.03, int(rng.integers(4, 8)), 0.2
            )
    elif kind == 1:  # stack of printed cartons
        cols = max(1, int((u1 - u0) / 0.45))
        for c in range(cols):
            for level in range(int(rng.integers(1, 4))):
                cu = u0 + c * (u1 - u0) / cols
                carton = jitter_color(rng, pick(rng, CARTON), 10)
                faces += f.box(
                    cu,
                    cu + (u1 - u0) / cols - 0.03,
                    -0.3,
                    0.25,
                    level * 0.42,
                    level * 0.42 + 0.4,
                    carton,
                )
                print_color = pick(rng, GOODS)
                faces.append(
                    Face(
                        f.quad(
                            (cu + 0.08, 0.26, level * 0.42 + 0.1),
                            (cu + 0.3, 0.26, level * 0.42 + 0.1),
                            (cu + 0.3, 0.26, level * 0.42 + 0.3),
                            (cu + 0.08, 0.26, level * 0.42 + 0.3),
                        ),
                        print_color,
                    )
                )
    elif kind == 2:  # crates of produce
        crate = pick(rng, [(40, 40, 170), (60, 140, 60), (40, 150, 220), (150, 90, 40)])
        for level in range(int(rng.integers(1, 3))):
            z = level * 0.32
            faces += f.box(u0, u1, -0.3 + level * 0.05, 0.2, z, z + 0.3, crate)
            produce = pick(
                rng, [(40, 60, 220), (30, 160, 240), (50, 180, 80), (60, 200, 230), (40, 40, 180)]
            )
            faces += f.box(
                u0 + 0.04,
                u1 - 0.04,
                -0.26 + level * 0.05,
                0.16,
                z + 0.3,
                z + 0.36,
                produce,
                top_texture=Texture.SOIL,
            )
    elif kind == 3:  # table of goods
        cloth = jitter_color(rng, pick(rng, [(200, 200, 200), (40, 40, 170), (170, 120, 40)]), 15)
        faces += f.box(u0, u1, -0.35, 0.35, 0.0, 0.75, cloth)
        faces += _goods_on(rng, f, u0, u1, -0.35, 0.35, 0.75, int(rng.integers(6, 12)), 0.2)
    else:  # rail of hanging clothes
        metal = (150, 150, 150)
        faces += f.box(u0, u0 + 0.04, -0.02, 0.02, 0.0, 1.6, metal)
        faces += f.box(u1 - 0.04, u1, -0.02, 0.02, 0.0, 1.6, metal)
        faces += f.box(u0, u1, -0.02, 0.02, 1.56, 1.6, metal)
        n = int(rng.integers(5, 10))
        for k in range(n):
            cu = u0 + 0.05 + k * (u1 - u0 - 0.1) / n
            garment = jitter_color(rng, pick(rng, CLOTHES + GOODS), 20)
            length = float(rng.uniform(0.6, 1.1))
            faces.append(
                Face(
                    f.quad(
                        (cu, -0.15 + 0.03 * (k % 3), 1.55 - length),
                        (cu + 0.09, -0.15 + 0.03 * (k % 3), 1.55 - length),
                        (cu + 0.09, 0.15, 1.55),
                        (cu, 0.15, 1.55),
                    ),
                    garment,
                )
            )
    return faces


def soil_patch(
    rng: np.random.Generator,
    x: float,
    y: float,
    *,
    radius: float,
    heap: float = 0.0,
    key: str = "",
) -> Solid:
    """Bare soil on the ground, optionally heaped up to ``heap`` metres in the middle."""
    color = jitter_color(rng, pick(rng, SOIL), 10)
    outline = ground_polygon(
        rng, x, y, radius * float(rng.uniform(0.8, 1.3)), radius * float(rng.uniform(0.6, 1.1))
    )
    faces = [Face(outline, color, shaded=False, texture=Texture.SOIL)]
    if heap > 0:
        faces += _heap_faces(rng, x, y, outline, heap, color, Texture.SOIL)
    return Solid(
        "bare_soil", tuple(faces), (x, y, 0.0), layer=Layer.GROUND, casts_shadow=False, key=key
    )


def dust_net(
    rng: np.random.Generator,
    x: float,
    y: float,
    *,
    radius: float,
    heap: float = 0.0,
    outline: np.ndarray | None = None,
    key: str = "",
) -> Solid:
    """A green dust-suppression net lying on the ground or over a soil heap."""
    color = jitter_color(rng, pick(rng, NET_GREEN), 10)
    shape = (
        outline
        if outline is not None
        else ground_polygon(
            rng, x, y, radius * float(rng.uniform(0.8, 1.3)), radius * float(rng.uniform(0.6, 1.1))
        )
    )
    faces = [Face(shape, color, shaded=False, texture=Texture.NET)]
    if heap > 0:
        faces += _heap_faces(rng, x, y, shape, heap, color, Texture.NET)
    return Solid(
        "dust_net", tuple(faces), (x, y, 0.0), layer=Layer.GROUND, casts_shadow=False, key=key
    )


def _heap_faces(
    rng: np.random.Generator,
    x: float,
    y: float,
    outline: np.ndarray,
    height: float,
    color: Color,
    texture: Texture,
) -> list[Face]:
    inner = outline.copy()
    inner[:, 0] = x + (inner[:, 0] - x) * 0.85
    inner[:, 1] = y + (inner[:, 1] - y) * 0.85
    apex = (x + float(rng.uniform(-0.3, 0.3)), y + float(rng.uniform(-0.3, 0.3)), height)
    faces = []
    n = len(inner)
    for i in range(n):
        a, b = inner[i], inner[(i + 1) % n]
        faces.append(Face(pts(tuple(a), tuple(b), apex), color, texture=texture))
    return faces
