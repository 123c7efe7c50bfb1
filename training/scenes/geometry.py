"""Polygons in the world and the solids they make up.

A :class:`Solid` is one thing in the scene (a person, a stall, a shop facade): a bag of flat
:class:`Face` polygons with a class name when it is a labelled object, or an empty name when it
is scenery. Builders in :mod:`training.scenes.objects` and :mod:`training.scenes.scenery` make
them; :mod:`training.scenes.render` draws them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Color = tuple[int, int, int]
"""A BGR colour, each channel 0..255."""


class Layer(IntEnum):
    """Drawing order of solids; within a layer, far solids are drawn first."""

    GROUND = 0
    """Flat ground: road, pavement, markings, soil patches, nets (drawn in list order)."""
    BACKDROP = 1
    """Skyline and shop facades: behind everything that stands on the street."""
    SITE = 2
    """Upright things inside the construction site, behind its fence."""
    FENCE = 3
    """The construction-site hoarding."""
    STREET = 4
    """Everything standing on the pavement or the road."""


class Texture(IntEnum):
    """Multiplicative screen-space texture applied when a face is filled."""

    NONE = 0
    GRAIN = 1
    """Fine noise (asphalt, pavement, concrete)."""
    SOIL = 2
    """Coarse blotchy noise with specks (earth)."""
    NET = 3
    """Fine mesh with folds (dust-suppression net)."""


@dataclass(frozen=True, slots=True)
class Face:
    """One flat polygon.

    Attributes:
        points: ``(N, 3)`` world vertices in metres, in order around the polygon.
        color: BGR fill colour before lighting.
        emissive: Glows at night (lit windows, lamps, headlights).
        shaded: Darken by the angle to the sun (off for flat ground and glowing faces).
        texture: Texture to modulate the fill with.
    """

    points: FloatArray
    color: Color
    emissive: bool = False
    shaded: bool = True
    texture: Texture = Texture.NONE


@dataclass(frozen=True, slots=True)
class Solid:
    """One object or piece of scenery.

    Attributes:
        name: Class name from :data:`training.scenes.classes.CLASSES`, or ``""`` for scenery.
        faces: The polygons, drawn far-to-near within the solid.
        anchor: World point used to order solids by distance (footprint centre).
        layer: Drawing layer.
        casts_shadow: Whether it throws a shadow on the ground in daylight.
        covered: For trucks, whether the load is covered; ``None`` for everything else.
        key: Stable identity across video frames (``""`` when it has none).
    """

    name: str
    faces: tuple[Face, ...]
    anchor: tuple[float, float, float]
    layer: Layer = Layer.STREET
    casts_shadow: bool = True
    covered: bool | None = None
    key: str = field(default="")


def pts(*xyz: tuple[float, float, float]) -> FloatArray:
    """Build an ``(N, 3)`` array of points."""
    return np.array(xyz, dtype=np.float64)


class Frame2D:
    """A local frame on the ground: origin ``(x, y)`` and heading ``yaw`` (radians).

    Local ``u`` runs along the heading, ``v`` to its left, ``z`` up.
    """

    __slots__ = ("c", "s", "x", "y")

    def __init__(self, x: float, y: float, yaw: float) -> None:
        self.x = x
        self.y = y
        self.c = math.cos(yaw)
        self.s = math.sin(yaw)

    def world(self, u: float, v: float, z: float) -> tuple[float, float, float]:
        """World point of local ``(u, v, z)``."""
        return (self.x + u * self.c - v * self.s, self.y + u * self.s + v * self.c, z)

    def quad(
        self,
        a: tuple[float, float, float],
        b: tuple[float, float, float],
        c: tuple[float, float, float],
        d: tuple[float, float, float],
    ) -> FloatArray:
        """World quad from four local points."""
        return pts(self.world(*a), self.world(*b), self.world(*c), self.world(*d))

    def box(
        self,
        u0: float,
        u1: float,
        v0: float,
        v1: float,
        z0: float,
        z1: float,
        color: Color,
        *,
        top: Color | None = None,
        top_texture: Texture = Texture.NONE,
    ) -> list[Face]:
        """The five visible-from-above faces of a local axis-aligned box."""
        q = self.quad
        faces = [
            Face(q((u0, v0, z0), (u1, v0, z0), (u1, v0, z1), (u0, v0, z1)), color),
            Face(q((u0, v1, z0), (u1, v1, z0), (u1, v1, z1), (u0, v1, z1)), color),
            Face(q((u0, v0, z0), (u0, v1, z0), (u0, v1, z1), (u0, v0, z1)), color),
            Face(q((u1, v0, z0), (u1, v1, z0), (u1, v1, z1), (u1, v0, z1)), color),
            Face(
                q((u0, v0, z1), (u1, v0, z1), (u1, v1, z1), (u0, v1, z1)),
                top if top is not None else color,
                texture=top_texture,
            ),
        ]
        return faces

    def vdisc(
        self,
        u: float,
        v: float,
        z: float,
        radius: float,
        color: Color,
        *,
        across: bool = False,
        n: int = 10,
    ) -> Face:
        """A vertical disc (a wheel) in the local ``u``-``z`` plane (``v``-``z`` if ``across``)."""
        points = []
        for i in range(n):
            a = 2 * math.pi * i / n
            du, dz = radius * math.cos(a), radius * math.sin(a)
            points.append(
                self.world(u, v + du, z + dz) if across else self.world(u + du, v, z + dz)
            )
        return Face(pts(*points), color)


def ground_polygon(
    rng: np.random.Generator,
    x: float,
    y: float,
    rx: float,
    ry: float,
    n: int = 14,
    jitter: float = 0.25,
) -> FloatArray:
    """An irregular blob on the ground around ``(x, y)`` with radii ``rx`` by ``ry`` metres."""
    angles = np.sort(rng.uniform(0, 2 * math.pi, n))
    radius = 1.0 + rng.uniform(-jitter, jitter, n)
    radius = (radius + np.roll(radius, 1) + np.roll(radius, -1)) / 3.0
    px = x + rx * radius * np.cos(angles)
    py = y + ry * radius * np.sin(angles)
    return np.stack([px, py, np.zeros(n)], axis=1)


def scale_color(color: Color, k: float) -> Color:
    """Multiply a colour by ``k`` with clipping."""
    return (
        int(min(255, max(0, color[0] * k))),
        int(min(255, max(0, color[1] * k))),
        int(min(255, max(0, color[2] * k))),
    )


def jitter_color(rng: np.random.Generator, color: Color, amount: int = 18) -> Color:
    """A colour near ``color``."""
    d = rng.integers(-amount, amount + 1, 3)
    return (
        int(np.clip(color[0] + d[0], 0, 255)),
        int(np.clip(color[1] + d[1], 0, 255)),
        int(np.clip(color[2] + d[2], 0, 255)),
    )


def pick(rng: np.random.Generator, options: list[Color]) -> Color:
    """One of ``options``, chosen with ``rng``."""
    return options[int(rng.integers(0, len(options)))]
