"""The interface every rule implements, and what a rule receives with each frame."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from edge.rules.events import RuleEvent
from edge.rules.settings import RulesSettings
from edge.sensors.samples import SensorSample
from edge.tracking import TrackSnapshot
from edge.types import Detections, ImageArray
from zones.config import Zone
from zones.geometry import ZoneGeometry

if TYPE_CHECKING:
    from edge.rules.cover import CoverClassifier


@dataclass(frozen=True, slots=True, eq=False)
class RuleFrame:
    """Everything a rule may use of one analysed frame.

    Attributes:
        detections: Tracked detections in pixels of the engine's resolution (label-mapped to
            the object names zones speak of).
        ts: The frame's timezone-aware timestamp.
        image: The BGR frame, for rules that look at pixels (the truck cover classifier);
            ``None`` when the caller has none, and those rules then skip.
        tracks: The tracker's snapshot (stationary and held tracks); ``None`` when unknown,
            which counts as nothing stationary and nothing held.
        readings: Sensor samples that arrived since the previous frame (any site; each rule
            picks its own).
    """

    detections: Detections
    ts: datetime
    image: ImageArray | None = None
    tracks: TrackSnapshot | None = None
    readings: tuple[SensorSample, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.ts.tzinfo is None or self.ts.utcoffset() is None:
            raise ValueError("ts must be timezone-aware (UTC)")
        if self.image is not None and (
            self.image.ndim != 3 or self.image.shape[2] != 3 or self.image.dtype.name != "uint8"
        ):
            raise ValueError(f"image must be HxWx3 uint8, got {self.image.shape}")

    @property
    def stationary_ids(self) -> frozenset[int]:
        """Tracks the tracker calls stationary (empty without a snapshot)."""
        return self.tracks.stationary_ids if self.tracks is not None else frozenset()

    @property
    def held(self) -> Detections:
        """Stationary tracks held without a detection in this frame."""
        if self.tracks is None:
            return Detections.empty(self.detections.names)
        return self.tracks.held


class Rule(Protocol):
    """One rule watching one zone of one camera. Pure: time comes in with each frame."""

    @property
    def name(self) -> str:
        """The rule's name, as in its events (``"stall_dwell"``)."""
        ...

    @property
    def zone_id(self) -> str:
        """The zone it watches."""
        ...

    def update(self, frame: RuleFrame) -> list[RuleEvent]:
        """Feed one analysed frame; return the events it produced."""
        ...

    def close(self, ts: datetime) -> list[RuleEvent]:
        """End every open event and forget all state (the worker is stopping)."""
        ...


@dataclass(frozen=True, slots=True, eq=False)
class RuleResources:
    """Heavy things rules share rather than load per zone.

    Attributes:
        cover_classifier: The truck-load classifier, or ``None`` to load it from
            ``settings.muck_truck.cover_model`` when a road zone needs it.
    """

    cover_classifier: CoverClassifier | None = None


RuleFactory = Callable[[Zone, ZoneGeometry, str, RulesSettings, RuleResources], Rule]
"""Builds a rule from ``(zone, geometry, camera_id, settings, resources)``; rule classes are
factories."""
