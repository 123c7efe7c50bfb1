"""A zone in the pixels of one frame size, and which boxes it triggers on.

Modelled on supervision's ``PolygonZone.trigger``: a box counts when its bottom-centre
(where an object stands on the ground) lies in the zone's polygon and in none of its
exclusions, the box is at least the zone's minimum size, and its class is one the zone
cares about. Points on an edge count as inside, so a box cut off by the bottom of the frame
still counts in a zone drawn down to ``y = 1``.

The ground layer knows no detector types: everything here takes plain numpy arrays (boxes
``(N, 4)`` as ``x1, y1, x2, y2`` pixels, points ``(N, 2)``, class indices with their
vocabulary) and returns ``(N,)`` bool masks, so the edge filters with ``detections[mask]``.
"""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt
import shapely

from zones.config import Zone

logger = logging.getLogger(__name__)

BoolArray = npt.NDArray[np.bool_]
F64 = npt.NDArray[np.float64]


def bottom_center(xyxy: npt.ArrayLike) -> F64:
    """The anchor of each box: the middle of its bottom edge.

    Args:
        xyxy: ``(N, 4)`` boxes as ``x1, y1, x2, y2``.

    Returns:
        ``(N, 2)`` points ``(x, y)`` in the boxes' units.

    Example:
        >>> bottom_center([[10, 40, 30, 80]]).tolist()
        [[20.0, 80.0]]
    """
    boxes = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    return np.stack([(boxes[:, 0] + boxes[:, 2]) / 2.0, boxes[:, 3]], axis=1)


class LineGeometry:
    """A straight line in pixels, and on which side of it points lie.

    The side is read as in the image: for a line within 60 degrees of horizontal, *below*
    means a larger ``y`` than the line's at the same ``x``; otherwise *right* means a larger
    ``x`` than the line's at the same ``y``. The line is extended to infinity for the side
    test (the zone's polygon bounds where it matters).

    Args:
        points01: The two ends in 0..1 of the frame.
        resolution_wh: ``(width, height)`` of the frames in pixels.
    """

    def __init__(
        self,
        points01: tuple[tuple[float, float], tuple[float, float]],
        resolution_wh: tuple[int, int],
    ) -> None:
        scale = np.array(resolution_wh, dtype=np.float64)
        self.points_px: F64 = np.asarray(points01, dtype=np.float64) * scale
        """``(2, 2)`` ends in pixels."""
        (x1, y1), (x2, y2) = self.points_px
        self.flat = abs(y2 - y1) <= 1.7320508075688772 * abs(x2 - x1)
        """Whether the line is within 60 degrees of horizontal (sides are above / below)."""

    def side_value(self, xy: npt.ArrayLike) -> F64:
        """Signed offset of each point from the line, in pixels along ``y`` (flat lines,
        positive below) or ``x`` (steep lines, positive to the right)."""
        pts = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        (x1, y1), (x2, y2) = self.points_px
        if self.flat:
            y_line = y1 + (pts[:, 0] - x1) * (y2 - y1) / (x2 - x1)
            out: F64 = pts[:, 1] - y_line
        else:
            x_line = x1 + (pts[:, 1] - y1) * (x2 - x1) / (y2 - y1)
            out = pts[:, 0] - x_line
        return out

    def on_side(self, xy: npt.ArrayLike, side: str) -> BoolArray:
        """Which points lie strictly on ``side`` (``above``, ``below``, ``left``, ``right``)."""
        value = self.side_value(xy)
        if side in ("below", "right"):
            mask: BoolArray = value > 0
        elif side in ("above", "left"):
            mask = value < 0
        else:
            raise ValueError(f"unknown side {side!r}")
        if self.flat != (side in ("above", "below")):
            raise ValueError(f"side {side!r} does not fit this line's slope")
        return mask

    def crossed(self, start: npt.ArrayLike, end: npt.ArrayLike) -> BoolArray:
        """Which moves ``start[i] -> end[i]`` cross the line segment (touching counts)."""
        p = np.asarray(start, dtype=np.float64).reshape(-1, 2)
        q = np.asarray(end, dtype=np.float64).reshape(-1, 2)
        a, b = self.points_px

        def orient(u: F64, v: F64, w: F64) -> F64:
            return np.asarray(
                np.sign(
                    (v[..., 0] - u[..., 0]) * (w[..., 1] - u[..., 1])
                    - (v[..., 1] - u[..., 1]) * (w[..., 0] - u[..., 0])
                ),
                dtype=np.float64,
            )

        a_ = np.broadcast_to(a, p.shape)
        b_ = np.broadcast_to(b, p.shape)
        d1, d2 = orient(a_, b_, p), orient(a_, b_, q)
        d3, d4 = orient(p, q, a_), orient(p, q, b_)
        out: BoolArray = (d1 * d2 <= 0) & (d3 * d4 <= 0) & ~((d1 == 0) & (d2 == 0))
        return out


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
        >>> xyxy = np.array([[10, 40, 30, 80], [10, 0, 30, 20]], np.float32)
        >>> geometry.trigger(xyxy, np.array([0, 0]), ("stall",)).tolist()
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
        self.door_line: LineGeometry | None = None
        """The shop frontage's door line in pixels, when the zone has one."""
        self.street_side: str | None = None
        if zone.door_line is not None:
            self.door_line = LineGeometry(zone.door_line.points, self.resolution_wh)
            self.street_side = zone.door_line.street_side
        self.crossing_line: LineGeometry | None = None
        """The road's counting line in pixels, when the zone has one."""
        if zone.crossing_line is not None:
            self.crossing_line = LineGeometry(zone.crossing_line.points, self.resolution_wh)
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

    @property
    def area_px(self) -> float:
        """The zone's area in pixels, exclusions not subtracted."""
        return float(self._polygon.area)

    def beyond_door(self, anchors_xy: npt.ArrayLike) -> BoolArray:
        """Which anchor points stand on the street side of the door line.

        Args:
            anchors_xy: ``(N, 2)`` points in pixels, usually the boxes' :func:`bottom_center`.

        Returns:
            ``(N,)`` bool mask.

        Raises:
            ValueError: If the zone has no door line.
        """
        if self.door_line is None or self.street_side is None:
            raise ValueError(f"zone {self.zone.id!r} has no door_line")
        points = np.asarray(anchors_xy, dtype=np.float64).reshape(-1, 2)
        if len(points) == 0:
            return np.zeros(0, dtype=bool)
        return self.door_line.on_side(points, self.street_side)

    def trigger(
        self, xyxy: npt.ArrayLike, class_id: npt.ArrayLike, names: tuple[str, ...]
    ) -> BoolArray:
        """Mask of the boxes that count in this zone.

        Args:
            xyxy: ``(N, 4)`` boxes in pixels of frames of ``resolution_wh``.
            class_id: ``(N,)`` indices into ``names``.
            names: The vocabulary that ``class_id`` indexes.

        Returns:
            ``(N,)`` bool mask; filter with ``detections[mask]``.

        Raises:
            ValueError: If the arrays' shapes disagree.
        """
        boxes = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
        classes = np.asarray(class_id, dtype=np.int64).reshape(-1)
        n = len(boxes)
        if len(classes) != n:
            raise ValueError(f"{n} boxes but {len(classes)} class ids")
        mask: BoolArray = np.zeros(n, dtype=bool)
        if n == 0:
            return mask
        wanted = self._wanted(names)[classes]
        big = ((boxes[:, 2] - boxes[:, 0]) >= self._min_wh_px[0]) & (
            (boxes[:, 3] - boxes[:, 1]) >= self._min_wh_px[1]
        )
        candidates = np.flatnonzero(wanted & big)
        if candidates.size:
            anchors = bottom_center(boxes[candidates])
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
