"""The scene's own geometry as zones: ground areas and points projected through the camera."""

from __future__ import annotations

import numpy as np
import shapely

from training.scenes.camera import Camera
from training.scenes.staging import x_extent
from zones.config import CameraZones


def one_zone(scenario: str, zone: dict[str, object]) -> CameraZones:
    """The zone file of a scenario's camera (``scn-<name>``) holding the one ``zone``."""
    return CameraZones.model_validate(
        {"camera_id": f"scn-{scenario}".replace("_", "-"), "zones": [zone]}
    )


def project_area(camera: Camera, world_xy: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """A ground polygon (metres) as seen by ``camera``, clipped to the frame, in 0..1.

    Raises:
        ValueError: The camera does not see the area (or under 100 square pixels of it).
    """
    ring = shapely.segmentize(shapely.LinearRing(world_xy), 0.25)
    pts = np.array([(x, y, 0.0) for x, y in ring.coords[:-1]], dtype=np.float64)
    uv = camera.project_polygon(pts)
    if uv is None or len(uv) < 3:
        raise ValueError("the camera does not see the area")
    shape = shapely.Polygon(uv).buffer(0)
    frame = shapely.box(0, 0, camera.width, camera.height)
    seen = shape.intersection(frame)
    if seen.geom_type == "MultiPolygon":
        seen = max(seen.geoms, key=lambda g: g.area)
    seen = shapely.simplify(seen, 1.0)
    if seen.is_empty or seen.area < 100:
        raise ValueError("the camera does not see the area")
    coords = np.asarray(seen.exterior.coords[:-1], dtype=np.float64)
    coords /= [camera.width, camera.height]
    return [
        (round(float(np.clip(x, 0, 1)), 5), round(float(np.clip(y, 0, 1)), 5)) for x, y in coords
    ]


def project_point(camera: Camera, x: float, y: float) -> tuple[float, float]:
    """A ground point (metres) as seen by ``camera``, in 0..1 (clipped to the frame).

    Raises:
        ValueError: The point is behind the camera.
    """
    uv, depth = camera.project(np.array([[x, y, 0.0]]))
    if depth[0] <= 0.5:
        raise ValueError("point behind the camera")
    return (
        round(float(np.clip(uv[0, 0] / camera.width, 0, 1)), 5),
        round(float(np.clip(uv[0, 1] / camera.height, 0, 1)), 5),
    )


def visible_x(camera: Camera, y: float) -> tuple[float, float]:
    """The span of ``x`` along the ground line ``y`` that the camera sees, no margin."""
    return x_extent(camera, y, margin=0.0)


def street_side(
    resolution_wh: tuple[int, int],
    a: tuple[float, float],
    b: tuple[float, float],
    street: tuple[float, float],
) -> str:
    """The side of the door line ``a``-``b`` that the point ``street`` is on (0..1 points).

    As a zone file's ``door_line.street_side`` names it: ``below`` / ``above`` a line
    flatter than 60 degrees in pixels, ``right`` / ``left`` of a steeper one.
    """
    w, h = resolution_wh
    if abs(b[1] - a[1]) * h <= 1.7 * abs(b[0] - a[0]) * w:
        y_line = a[1] + (street[0] - a[0]) * (b[1] - a[1]) / (b[0] - a[0])
        return "below" if street[1] > y_line else "above"
    x_line = a[0] + (street[1] - a[1]) * (b[0] - a[0]) / (b[1] - a[1])
    return "right" if street[0] > x_line else "left"
