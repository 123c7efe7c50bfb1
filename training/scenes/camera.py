"""A pinhole camera on a pole: world-to-image projection with near-plane clipping.

World coordinates are metres: ``x`` runs along the street, ``y`` across it (0 is the shop
facade, growing towards the road and the construction site), ``z`` is up, the ground is
``z = 0``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

NEAR_M = 0.5
"""Distance in front of the camera at which geometry is clipped, in metres."""


@dataclass(frozen=True, slots=True)
class Camera:
    """A level-rolled pinhole camera.

    Attributes:
        position: ``(x, y, z)`` of the lens in metres; ``z`` is the pole height.
        yaw_deg: Heading of the optical axis in the ground plane, degrees from +x towards +y.
        pitch_deg: Downward tilt of the optical axis, degrees (positive looks down).
        hfov_deg: Horizontal field of view, degrees.
        width: Image width in pixels.
        height: Image height in pixels.
    """

    position: tuple[float, float, float]
    yaw_deg: float
    pitch_deg: float
    hfov_deg: float
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"camera size must be positive, got {self.width}x{self.height}")
        if not 10.0 <= self.hfov_deg <= 150.0:
            raise ValueError(f"hfov_deg must be in 10..150, got {self.hfov_deg}")
        if self.position[2] <= 0:
            raise ValueError(f"camera height must be above the ground, got {self.position[2]}")

    @property
    def focal_px(self) -> float:
        """Focal length in pixels."""
        return self.width / 2.0 / math.tan(math.radians(self.hfov_deg) / 2.0)

    def axes(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Return the camera's forward, right and down unit vectors in world coordinates."""
        yaw = math.radians(self.yaw_deg)
        pitch = math.radians(self.pitch_deg)
        forward = np.array(
            [math.cos(pitch) * math.cos(yaw), math.cos(pitch) * math.sin(yaw), -math.sin(pitch)]
        )
        right = np.array([math.sin(yaw), -math.cos(yaw), 0.0])
        down = np.cross(forward, right)
        return forward, right, down

    def to_camera(self, points: FloatArray) -> FloatArray:
        """World points ``(N, 3)`` to camera coordinates ``(N, 3)``: right, down, depth."""
        forward, right, down = self.axes()
        rel = np.asarray(points, dtype=np.float64) - np.asarray(self.position)
        return np.stack([rel @ right, rel @ down, rel @ forward], axis=1)

    def project_camera(self, cam: FloatArray) -> FloatArray:
        """Project ``(N, 3)`` camera-frame points with positive depth to ``(N, 2)`` pixels."""
        f = self.focal_px
        u = f * cam[:, 0] / cam[:, 2] + self.width / 2.0
        v = f * cam[:, 1] / cam[:, 2] + self.height / 2.0
        return np.stack([u, v], axis=1)

    def project(self, points: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Project world points; returns ``(N, 2)`` pixels and ``(N,)`` depths (may be <= 0)."""
        cam = self.to_camera(points)
        depth = cam[:, 2].copy()
        safe = cam.copy()
        safe[:, 2] = np.maximum(safe[:, 2], 1e-6)
        return self.project_camera(safe), depth

    def project_polygon(self, points: FloatArray) -> FloatArray | None:
        """Clip a planar world polygon at the near plane and project it.

        Args:
            points: ``(N, 3)`` polygon vertices in order.

        Returns:
            ``(M, 2)`` pixel vertices, or ``None`` when nothing is in front of the camera.
        """
        cam = self.to_camera(points)
        clipped = _clip_near(cam, NEAR_M)
        if clipped is None:
            return None
        return self.project_camera(clipped)

    def depth_of(self, point: tuple[float, float, float]) -> float:
        """Depth along the optical axis of one world point, in metres."""
        return float(self.to_camera(np.array([point], dtype=np.float64))[0, 2])

    def ground_point(self, u: float, v: float) -> tuple[float, float] | None:
        """Back-project pixel ``(u, v)`` onto the ground plane.

        Returns:
            World ``(x, y)`` where the pixel's ray meets ``z = 0``, or ``None`` when the ray
            points at or above the horizon.
        """
        forward, right, down = self.axes()
        f = self.focal_px
        ray = forward + right * ((u - self.width / 2.0) / f) + down * ((v - self.height / 2.0) / f)
        if ray[2] >= -1e-6:
            return None
        t = -self.position[2] / ray[2]
        return (self.position[0] + t * ray[0], self.position[1] + t * ray[1])

    def horizon_v(self) -> float:
        """Image row of the horizon (may lie outside the image)."""
        pitch = math.radians(self.pitch_deg)
        return self.height / 2.0 - self.focal_px * math.tan(pitch)


def _clip_near(cam: FloatArray, near: float) -> FloatArray | None:
    """Sutherland-Hodgman clip of a camera-frame polygon against ``depth >= near``."""
    out: list[FloatArray] = []
    n = len(cam)
    for i in range(n):
        a = cam[i]
        b = cam[(i + 1) % n]
        a_in = a[2] >= near
        b_in = b[2] >= near
        if a_in:
            out.append(a)
        if a_in != b_in:
            t = (near - a[2]) / (b[2] - a[2])
            out.append(a + t * (b - a))
    if len(out) < 3:
        return None
    return np.array(out)
