"""Street vending: stalls (umbrella and table, tricycle cart, tarpaulin) and shop goods."""

from __future__ import annotations

import math

import numpy as np

from training.scenes.geometry import (
    Face,
    Frame2D,
    Solid,
    Texture,
    jitter_color,
    pick,
    pts,
    scale_color,
)
from training.scenes.palettes import CANOPY, CARTON, CLOTHES, GOODS


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
