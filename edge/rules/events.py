"""What rules emit: :class:`RuleEvent`, one phase of one violation's life.

The worker turns a ``RuleEvent`` into the wire's ``contracts.ZoneEvent`` (adding the edge id,
the model, the evidence and the box in 0..1 via :meth:`RuleEvent.xyxyn`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from contracts.events import EventPhase, ViolationType
from edge.types import FloatArray

_EVENT_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True, slots=True, eq=False)
class RuleEvent:
    """One phase (start / update / end) of one violation, under a stable ``event_id``.

    Attributes:
        event_id: 32 lowercase hex characters (a uuid4), the same for the violation's start,
            updates and end.
        phase: Where in its life the violation is.
        camera_id: The camera.
        zone_id: The zone, unique per camera.
        rule: The rule that fired, e.g. ``"stall_dwell"``.
        violation_type: The violation of the enforcement plan.
        label: The object's name (from ``zones.objects.KNOWN_OBJECTS``), latest seen.
        confidence: The highest detection score seen for the object during its stay.
        xyxy: ``(4,)`` float32 latest box in pixels (read-only).
        tracker_id: The object's track.
        first_seen: UTC time since which the object is in violation.
        last_seen: UTC time the object was last seen in the zone.
        dwell_s: ``last_seen - first_seen`` in seconds.
    """

    event_id: str
    phase: EventPhase
    camera_id: str
    zone_id: str
    rule: str
    violation_type: ViolationType
    label: str
    confidence: float
    xyxy: FloatArray
    tracker_id: int
    first_seen: datetime
    last_seen: datetime
    dwell_s: float

    def __post_init__(self) -> None:
        if not _EVENT_ID.match(self.event_id):
            raise ValueError(f"event_id must be 32 lowercase hex characters, got {self.event_id!r}")
        for name in ("first_seen", "last_seen"):
            value: datetime = getattr(self, name)
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"{name} must be timezone-aware (UTC)")
        if self.last_seen < self.first_seen:
            raise ValueError("last_seen is before first_seen")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be in 0..1, got {self.confidence}")
        if not math.isfinite(self.dwell_s) or self.dwell_s < 0:
            raise ValueError(f"dwell_s must be finite and >= 0, got {self.dwell_s}")
        box = np.array(self.xyxy, dtype=np.float32).reshape(-1)
        if box.shape != (4,) or not np.isfinite(box).all():
            raise ValueError(f"xyxy must be 4 finite numbers, got {self.xyxy!r}")
        box.setflags(write=False)
        object.__setattr__(self, "xyxy", box)

    def xyxyn(self, resolution_wh: tuple[int, int]) -> FloatArray:
        """The box as fractions of the frame, clipped to 0..1 (for ``contracts.Box``).

        Args:
            resolution_wh: ``(width, height)`` of the frame the box is in.
        """
        width, height = resolution_wh
        if width <= 0 or height <= 0:
            raise ValueError(f"resolution_wh must be positive, got {resolution_wh}")
        scale = np.array([width, height, width, height], dtype=np.float32)
        out: FloatArray = np.clip(self.xyxy / scale, 0.0, 1.0).astype(np.float32)
        return out
