"""A zone in the pixels of one frame size, and which detections it triggers on.

Modelled on supervision's ``PolygonZone.trigger``: a detection counts when the bottom-centre
of its box (where an object stands on the ground) lies in the zone's polygon and in none of
its exclusions, its box is at least the zone's minimum size, and its class is one the zone
cares about. Points on an edge count as inside, so a box cut off by the bottom of the frame
still counts in a zone drawn down to ``y = 1``.
"""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt
import shapely

from edge.types import Detections
from zones.config import Zone

logger = logging.getLogger(__name__)

BoolArray = npt.NDArray[np.bool_]


class ZoneGeometry:
    """A :class:`~zones.config.Zone` scaled to a frame resolution.

    Args:
        zone: The validated zone (0..1 coordinates).
        resolution_wh: ``(width, height)`` in pixels of the frames whose detections will be
            tested.

    Raises:
        ValueError: If the resolution is not positive.

    Example:
        >>> import numpy as np
        >>> from zones.config import Zone
        >>> zone = Zone(id="z", name="z", kind="no_vending",
        ...             polygon=[(0, 0.5), (1, 0.5), (1, 1), (0, 1)], objects=["stall"])
        >>> geometry = ZoneGeometry(zone, (100, 100))
        >>> d = Detections(xyxy=np.array([[10, 40, 30, 80], [10, 0, 30, 20]], np.float32),
        ...                confidence=np.array([0.9, 0.9], np.float32),
        ...                class_id=np.array([0, 0]), names=("stall",))
        >>> geometry.trigger(d).tolist()
        [True, False]
    """

    def __init__(self, zone: Zone, resolution_wh: tuple[int, int]) -> None:
        width, height = resolution_wh
        if width <= 0 or height <= 0:
            raise ValueError(f"resolution_wh must be positive, got {resolution_wh}")
        self.zone = zone
        self.resolution_wh = (int(width), int(height))
        scale = np.array([width, height], dtype=np.float64)
        self.polygon_px = np.asarray(zone.polygon, dtype=np.float64) * scale
        """``(N, 2)`` polygon vertices in pixels (for drawing evidence)."""
        self.exclusions_px = [np.asarray(p, dtype=np.float64) * scale for p in zone.exclusions]
        """Each exclusion's ``(M, 2)`` vertices in pixels."""
        self._polygon = shapely.Polygon(self.polygon_px)
        shapely.prepare(self._polygon)
        self._excluded: shapely.Geometry | None = None
        if self.exclusions_px:
            self._excluded = shapely.union_all([shapely.Polygon(p) for p in self.exclusions_px])
            shapely.prepare(self._excluded)
        self._min_wh_px = (zone.min_box_wh[0] * width, zone.min_box_wh[1] * height)
        self._objects = frozenset(zone.objects)
        self._wanted_by_names: dict[tuple[str, ...], BoolArray] = {}

    def contains_xy(self, x: npt.ArrayLike, y: npt.ArrayLike) -> BoolArray:
        """Which pixel points lie in the zone (edges included) and outside every exclusion."""
        xs = np.asarray(x, dtype=np.float64).reshape(-1)
        ys = np.asarray(y, dtype=np.float64).reshape(-1)
        inside: BoolArray = np.asarray(shapely.intersects_xy(self._polygon, xs, ys), dtype=bool)
        if self._excluded is not None and inside.any():
            inside &= ~np.asarray(shapely.intersects_xy(self._excluded, xs, ys), dtype=bool)
        return inside

    def trigger(self, detections: Detections) -> BoolArray:
        """Mask of the detections that count in this zone.

        Args:
            detections: Detections in pixels of frames of ``resolution_wh``.

        Returns:
            ``(N,)`` bool mask; filter with ``detections[mask]``.
        """
        n = len(detections)
        mask: BoolArray = np.zeros(n, dtype=bool)
        if n == 0:
            return mask
        wanted = self._wanted(detections.names)[detections.class_id]
        xyxy = detections.xyxy
        big = ((xyxy[:, 2] - xyxy[:, 0]) >= self._min_wh_px[0]) & (
            (xyxy[:, 3] - xyxy[:, 1]) >= self._min_wh_px[1]
        )
        candidates = np.flatnonzero(wanted & big)
        if candidates.size:
            anchors = detections.bottom_center[candidates]
            mask[candidates] = self.contains_xy(anchors[:, 0], anchors[:, 1])
        return mask

    def _wanted(self, names: tuple[str, ...]) -> BoolArray:
        wanted = self._wanted_by_names.get(names)
        if wanted is None:
            wanted = np.array([name in self._objects for name in names], dtype=bool)
            if not wanted.any():
                logger.warning(
                    "zone %s wants %s but the detections name only %s; nothing will count",
                    self.zone.id,
                    sorted(self._objects),
                    list(names),
                )
            self._wanted_by_names[names] = wanted
        return wanted
