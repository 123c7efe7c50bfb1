"""People: a standing or walking figure that faces the camera."""

from __future__ import annotations

import math

import numpy as np

from training.scenes.geometry import Face, Frame2D, Solid, jitter_color, pick, pts, scale_color
from training.scenes.palettes import CANOPY, CLOTHES, HAIR, SKIN, TROUSERS


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
