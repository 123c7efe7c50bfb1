"""Change gating: skip inference on a frame whose zones did not change.

A camera that watches for stalls sees the same street for minutes; running the detector on
each look finds the same boxes. :class:`ChangeGate` compares a small grey thumbnail of each
frame with the thumbnail of the last frame the detector saw, inside the camera's zones
(widened by a margin): when too few pixels moved, the analysis re-uses the last detections
for this frame, and the tracker and rules go on with them (a still stall keeps its dwell).

It never hides a stationary violation: a still stall is exactly what does not change, so
inference runs again at least every ``max_skip_s`` of frame time, and never less often than
half the shortest positive ``dwell_s`` of the zones, whatever the pixels say. Pure: the frame
and its time come in as arguments.

Example:
    >>> from datetime import UTC, datetime, timedelta
    >>> import numpy as np
    >>> from edge.scheduling.config import GatingConfig
    >>> from zones.config import CameraZones
    >>> gate = ChangeGate(GatingConfig(enabled=True), CameraZones(camera_id="c", zones=[]))
    >>> t0, still = datetime(2026, 1, 1, tzinfo=UTC), np.zeros((72, 128, 3), np.uint8)
    >>> gate.check(still, t0).value
    'first'
    >>> gate.inferred(still, t0); gate.check(still, t0 + timedelta(seconds=4)).value
    'unchanged'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import cv2
import numpy as np
import numpy.typing as npt

from edge.scheduling.config import GatingConfig
from edge.types import ImageArray
from zones.config import CameraZones


class GateDecision(StrEnum):
    """Whether a frame goes to the detector, and why."""

    FIRST = "first"
    """No frame inferred yet (or the frame size changed)."""
    CHANGED = "changed"
    """Enough pixels moved inside the zones."""
    DUE = "due"
    """Nothing moved, but the last inference is ``max_skip_s`` old: look again."""
    UNCHANGED = "unchanged"
    """Nothing moved: re-use the last detections."""

    @property
    def infer(self) -> bool:
        return self is not GateDecision.UNCHANGED


@dataclass(frozen=True, slots=True)
class _Reference:
    thumb: npt.NDArray[np.int16]
    ts: datetime
    shape: tuple[int, int]


class ChangeGate:
    """Decides per frame whether the detector must run (see the module docstring).

    Args:
        config: Thresholds and the longest skip.
        zones: The camera's zones (their union, widened, is compared; the whole frame when
            the camera has none).
    """

    def __init__(self, config: GatingConfig, zones: CameraZones) -> None:
        self.config = config
        self.zones = zones
        self.max_skip_s = config.max_skip_s
        """The longest time between two inferences (seconds of frame time)."""
        self._reference: _Reference | None = None
        self._mask: npt.NDArray[np.bool_] | None = None
        self._mask_shape: tuple[int, int] | None = None
        self.set_zones(zones)

    def set_zones(self, zones: CameraZones) -> None:
        """Compare inside new zones from the next frame on (the next frame is inferred)."""
        dwell = [z.dwell_s for z in zones.zones if z.dwell_s > 0]
        self.zones = zones
        self.max_skip_s = min([self.config.max_skip_s, *(d / 2 for d in dwell)])
        self._reference = None
        self._mask = None
        self._mask_shape = None

    def _thumb(self, image: ImageArray) -> npt.NDArray[np.int16]:
        h, w = image.shape[:2]
        tw = min(self.config.thumb_width, w)
        th = max(1, round(h * tw / w))
        small = cv2.resize(image, (tw, th), interpolation=cv2.INTER_AREA)
        return np.asarray(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), dtype=np.int16)

    def _zone_mask(self, shape: tuple[int, int]) -> npt.NDArray[np.bool_]:
        if self._mask is not None and self._mask_shape == shape:
            return self._mask
        th, tw = shape
        if not self.zones.zones:
            mask = np.ones(shape, dtype=bool)
        else:
            canvas = np.zeros(shape, dtype=np.uint8)
            for zone in self.zones.zones:
                points = np.asarray(zone.polygon, dtype=np.float64) * np.array([tw, th])
                cv2.fillPoly(canvas, [np.round(points).astype(np.int32)], 1)
            grow = round(self.config.margin * tw)
            if grow > 0:
                kernel = np.ones((2 * grow + 1, 2 * grow + 1), dtype=np.uint8)
                canvas = np.asarray(cv2.dilate(canvas, kernel), dtype=np.uint8)
            mask = canvas.astype(bool)
        self._mask, self._mask_shape = mask, shape
        return mask

    def check(self, image: ImageArray, ts: datetime) -> GateDecision:
        """Whether the detector must see ``image`` (taken at ``ts``)."""
        ref = self._reference
        if ref is None or ref.shape != image.shape[:2]:
            return GateDecision.FIRST
        if (ts - ref.ts).total_seconds() >= self.max_skip_s:
            return GateDecision.DUE
        thumb = self._thumb(image)
        mask = self._zone_mask((int(thumb.shape[0]), int(thumb.shape[1])))
        moved = np.abs(thumb - ref.thumb) > self.config.pixel_delta
        share = float(moved[mask].mean()) if mask.any() else 0.0
        return GateDecision.CHANGED if share > self.config.changed_share else GateDecision.UNCHANGED

    def inferred(self, image: ImageArray, ts: datetime) -> None:
        """The detector saw ``image`` (taken at ``ts``): later frames compare with it."""
        h, w = image.shape[:2]
        self._reference = _Reference(self._thumb(image), ts, (h, w))
