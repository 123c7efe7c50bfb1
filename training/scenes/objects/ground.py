"""Ground cover on a construction site: bare soil (flat or heaped) and green dust nets."""

from __future__ import annotations

import numpy as np

from training.scenes.geometry import (
    Color,
    Face,
    Layer,
    Solid,
    Texture,
    ground_polygon,
    jitter_color,
    pick,
    pts,
)
from training.scenes.palettes import NET_GREEN, SOIL


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
    return _cover(rng, "bare_soil", SOIL, Texture.SOIL, (x, y), radius, heap, None, key)


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
    return _cover(rng, "dust_net", NET_GREEN, Texture.NET, (x, y), radius, heap, outline, key)


def _cover(
    rng: np.random.Generator,
    name: str,
    palette: list[Color],
    texture: Texture,
    xy: tuple[float, float],
    radius: float,
    heap: float,
    outline: np.ndarray | None,
    key: str,
) -> Solid:
    """A flat patch (a random outline about ``radius`` across, or ``outline``), maybe heaped."""
    x, y = xy
    color = jitter_color(rng, pick(rng, palette), 10)
    shape = (
        outline
        if outline is not None
        else ground_polygon(
            rng, x, y, radius * float(rng.uniform(0.8, 1.3)), radius * float(rng.uniform(0.6, 1.1))
        )
    )
    faces = [Face(shape, color, shaded=False, texture=texture)]
    if heap > 0:
        faces += _heap_faces(rng, x, y, shape, heap, color, texture)
    return Solid(name, tuple(faces), (x, y, 0.0), layer=Layer.GROUND, casts_shadow=False, key=key)


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
