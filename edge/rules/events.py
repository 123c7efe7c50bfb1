"""What rules emit: :class:`RuleEvent`, one phase of one violation's life.

The worker turns a ``RuleEvent`` into the wire's ``contracts.ZoneEvent`` (adding the edge id,
the model, the evidence and the box in 0..1 via :meth:`RuleEvent.xyxyn`). Rule-specific facts
travel in ``details`` (copied to ``ZoneEvent.details``: the shop, the bare-soil share, the
cover verdict) and rule-specific evidence in ``attachments`` (a truck's load and plate crops,
a sensor series), which :func:`attachment_items` encodes next to the worker's own snapshots.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

import numpy as np
from pydantic import BaseModel

from contracts.events import EventPhase, EvidenceKind, ViolationType
from edge.evidence import EvidenceItem, encode_jpeg_within, json_item
from edge.types import FloatArray, ImageArray

_EVENT_ID = re.compile(r"^[0-9a-f]{32}$")
_DETAIL_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_DETAILS = 32
"""``contracts.ZoneEvent.details`` holds at most this many entries."""

DetailValue = str | float | int


def _check_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC)")


@dataclass(frozen=True, slots=True, eq=False)
class ImageAttachment:
    """An image a rule kept as evidence (a truck's load or plate region), sent as JPEG.

    Attributes:
        kind: What it shows (``load``, ``plate``, ``crop``).
        image: BGR ``uint8`` crop (copied and made read-only).
        captured_at: When the frame it comes from was captured.
    """

    kind: EvidenceKind
    image: ImageArray
    captured_at: datetime

    def __post_init__(self) -> None:
        _check_aware(self.captured_at, "captured_at")
        image = np.array(self.image, dtype=np.uint8, copy=True)
        if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 1:
            raise ValueError(f"image must be HxWx3 uint8, got shape {image.shape}")
        image.setflags(write=False)
        object.__setattr__(self, "image", image)


@dataclass(frozen=True, slots=True, eq=False)
class JsonAttachment:
    """A document a rule attaches as evidence (a sensor series), sent as canonical JSON.

    Attributes:
        kind: What it is (``sensor_series``).
        document: A pydantic model; serialised with ``model_dump(mode="json")``.
        captured_at: The time the document describes up to.
    """

    kind: EvidenceKind
    document: BaseModel
    captured_at: datetime

    def __post_init__(self) -> None:
        _check_aware(self.captured_at, "captured_at")


Attachment = ImageAttachment | JsonAttachment
"""Rule-specific evidence carried by a :class:`RuleEvent`."""


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
        label: What is in violation: an object name (``zones.objects.KNOWN_OBJECTS``) for
            object rules, or the measured condition (``pm10``, ``noise_laeq``) for a case
            opened by a sensor.
        confidence: The highest detection score seen for the object during its stay (1.0
            for a sensor's measurement).
        xyxy: ``(4,)`` float32 latest box in pixels (read-only); for a group or an area,
            the box around it.
        tracker_id: The object's track (a group's first member), or ``-1`` when the
            violation is not one tracked object (a share of an area, a sensor).
        first_seen: UTC time since which the object is in violation.
        last_seen: UTC time the object was last seen in the zone.
        dwell_s: ``last_seen - first_seen`` in seconds.
        details: Rule-specific facts for ``ZoneEvent.details`` (read-only; at most 32
            entries; keys are lowercase identifiers, values finite numbers or strings).
        attachments: Rule-specific evidence (see :func:`attachment_items`).
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
    details: Mapping[str, DetailValue] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()

    def __post_init__(self) -> None:
        if not _EVENT_ID.match(self.event_id):
            raise ValueError(f"event_id must be 32 lowercase hex characters, got {self.event_id!r}")
        for name in ("first_seen", "last_seen"):
            _check_aware(getattr(self, name), name)
        if self.tracker_id < -1:
            raise ValueError(f"tracker_id must be >= -1, got {self.tracker_id}")
        details = dict(self.details)
        if len(details) > MAX_DETAILS:
            raise ValueError(f"at most {MAX_DETAILS} details, got {len(details)}")
        for key, value in details.items():
            if not _DETAIL_KEY.match(key):
                raise ValueError(f"detail key {key!r} is not a lowercase identifier")
            if isinstance(value, bool) or not isinstance(value, str | float | int):
                raise ValueError(f"detail {key!r} must be a string or a number, got {value!r}")
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"detail {key!r} must be finite, got {value!r}")
        object.__setattr__(self, "details", MappingProxyType(details))
        object.__setattr__(self, "attachments", tuple(self.attachments))
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


def attachment_items(event: RuleEvent, jpeg_quality: int) -> list[EvidenceItem]:
    """Encode a rule event's attachments as evidence items (JPEG or canonical JSON).

    Args:
        event: The rule event.
        jpeg_quality: JPEG quality for image attachments (as the worker's snapshots).

    Returns:
        One item per attachment, in order.
    """
    items: list[EvidenceItem] = []
    for attachment in event.attachments:
        if isinstance(attachment, ImageAttachment):
            data = encode_jpeg_within(attachment.image, jpeg_quality)
            items.append(
                EvidenceItem.create(attachment.kind, "image/jpeg", data, attachment.captured_at)
            )
        else:
            items.append(
                json_item(
                    attachment.kind,
                    attachment.document.model_dump(mode="json"),
                    attachment.captured_at,
                )
            )
    return items
