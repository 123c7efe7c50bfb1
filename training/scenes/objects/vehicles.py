"""Vehicles: cars (saloon, SUV, van) and muck trucks with a covered or an open load."""

from __future__ import annotations

import numpy as np

from training.scenes.geometry import (
    Color,
    Face,
    Frame2D,
    Solid,
    Texture,
    jitter_color,
    pick,
    scale_color,
)
from training.scenes.palettes import CAR_PAINT, SOIL, TARP, TRUCK_PAINT

HEADLIGHT: Color = (200, 235, 245)
TAIL_LIGHT: Color = (30, 30, 200)


def _lamp(
    f: Frame2D, u: float, v: float, width: float, z: tuple[float, float], color: Color
) -> Face:
    """A glowing light on the end of a vehicle at ``u``, ``width`` wide from ``v``, ``z`` high."""
    z0, z1 = z
    return Face(
        f.quad((u, v, z0), (u, v + width, z0), (u, v + width, z1), (u, v, z1)),
        color,
        emissive=True,
        shaded=False,
    )


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
        faces.append(_lamp(f, l2 + 0.005, v, 0.3, (0.6, 0.75), HEADLIGHT))
        faces.append(_lamp(f, -l2 - 0.005, v, 0.3, (0.65, 0.8), TAIL_LIGHT))
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
        faces.append(_lamp(f, l2 + 0.01, v, 0.4, (1.1, 1.3), HEADLIGHT))
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
