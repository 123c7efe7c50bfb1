"""The interface every rule implements, and what a rule receives with each frame."""

from __future__ import annotations

import logging
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar, Protocol

from contracts.events import EventPhase, ViolationType
from edge.rules.events import Attachment, DetailValue, RuleEvent
from edge.rules.settings import RulesSettings
from edge.sensors.samples import SensorSample
from edge.tracking import TrackSnapshot
from edge.types import Detections, FloatArray, ImageArray
from zones.config import Zone, ZoneKind
from zones.geometry import ZoneGeometry

if TYPE_CHECKING:
    from edge.plates.reader import PlateReader
    from edge.rules.cover import CoverClassifier


def new_event_id() -> str:
    """A fresh event id: uuid4 as 32 lowercase hex characters."""
    return uuid.uuid4().hex


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
        plate_reader: The truck plate reader (loaded once from
            ``settings.muck_truck.plate_reader``), or ``None`` when none is configured or it
            did not load; truck cases then say why their plate was not read.
    """

    cover_classifier: CoverClassifier | None = None
    plate_reader: PlateReader | None = None


RuleFactory = Callable[[Zone, ZoneGeometry, str, RulesSettings, RuleResources], Rule]
"""Builds a rule from ``(zone, geometry, camera_id, settings, resources)``; rule classes are
factories."""


@dataclass(slots=True)
class CaseTimes:
    """The case a rule (or one of its groups) has open, and when its objects were last seen.

    Attributes:
        event_id: The open case's id, or ``None`` when no case is open.
        first_seen: Since when the open case's violation lasts.
        last_seen: When the violation was last seen (kept after the case ends).
        last_emit: When the open case's last event was emitted.
    """

    event_id: str | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    last_emit: datetime | None = None

    def open(self, event_id: str, first_seen: datetime, ts: datetime) -> None:
        """Open a case at ``ts`` (its ``start`` is emitted now) lasting since ``first_seen``."""
        self.event_id = event_id
        self.first_seen = first_seen
        self.last_emit = ts

    def update_due(self, ts: datetime, interval_s: float, *, now: bool = False) -> bool:
        """Whether the open case is due an ``update`` at ``ts`` (``interval_s`` after the last
        event, or ``now``); if so, it is emitted now."""
        assert self.last_emit is not None
        if not now and (ts - self.last_emit).total_seconds() < interval_s:
            return False
        self.last_emit = ts
        return True

    def cooled_down(self, ts: datetime, cooldown_s: float) -> bool:
        """Whether an open case's violation has been unseen for ``cooldown_s`` at ``ts``."""
        assert self.last_seen is not None
        return (ts - self.last_seen).total_seconds() >= cooldown_s

    def reset(self) -> None:
        """Forget the open case (``last_seen`` stays)."""
        self.event_id = None
        self.first_seen = None
        self.last_emit = None


@dataclass(frozen=True, slots=True, eq=False)
class Subject:
    """What an event says is in violation (see :class:`RuleEvent` for each field)."""

    label: str
    confidence: float
    xyxy: FloatArray
    tracker_id: int


class ZoneRule(ABC):
    """What every zone rule shares: its zone, camera and settings, time order, logs and events.

    A subclass sets the class attributes, builds its own state in :meth:`_setup` and
    implements the rest of :class:`Rule` (``update``, ``close``).

    Args:
        zone: The zone the rule watches (it must fit: :meth:`_fits`).
        geometry: The zone in pixels of the frames to come.
        camera_id: The camera, copied into every event.
        settings: Timezone and every rule's settings.
        resources: Shared heavy things (for :meth:`_setup`).
        id_factory: Makes event ids (uuid4 hex by default).

    Raises:
        ValueError: If the rule cannot watch ``zone``, ``geometry`` is of another zone, or
            :meth:`_setup` refuses ``resources``.
    """

    rule_name: ClassVar[str]
    """The rule's name, as in its events (``"stall_dwell"``)."""
    violation_type: ClassVar[ViolationType]
    """The violation its events report."""
    zone_kind: ClassVar[ZoneKind]
    """The kind of zone it watches."""
    needs: ClassVar[str]
    """The zone it needs, as said when it gets another (``"a no_vending zone"``)."""

    def __init__(
        self,
        zone: Zone,
        geometry: ZoneGeometry,
        camera_id: str,
        settings: RulesSettings,
        resources: RuleResources | None = None,
        *,
        id_factory: Callable[[], str] = new_event_id,
    ) -> None:
        if not self._fits(zone):
            raise ValueError(
                f"{self.rule_name} needs {self.needs}, zone {zone.id!r} is {self._zone_state(zone)}"
            )
        if geometry.zone.id != zone.id:
            raise ValueError(f"geometry is of zone {geometry.zone.id!r}, not {zone.id!r}")
        self.zone = zone
        self.geometry = geometry
        self.camera_id = camera_id
        self.settings = settings
        self._tz = settings.tzinfo()
        self._id_factory = id_factory
        self._logger = logging.getLogger(type(self).__module__)
        self._last_ts: datetime | None = None
        self._setup(resources)

    def _fits(self, zone: Zone) -> bool:
        """Whether the rule can watch ``zone`` (by default: one of :attr:`zone_kind`)."""
        return zone.kind is self.zone_kind

    def _zone_state(self, zone: Zone) -> str:
        """What ``zone`` is, as said when it does not fit (by default its kind)."""
        return zone.kind.value

    @abstractmethod
    def _setup(self, resources: RuleResources | None) -> None:
        """Build the rule's own state (zone, geometry and settings are set by now)."""

    @property
    def name(self) -> str:
        """The rule's name, as in its events."""
        return self.rule_name

    @property
    def zone_id(self) -> str:
        """The zone the rule watches."""
        return self.zone.id

    def _log(self, level: int, msg: str, *args: object) -> None:
        """Log ``msg % args`` (lazily) after the rule, camera and zone."""
        self._logger.log(
            level,
            "%s %s/%s: " + msg,
            self.rule_name,
            self.camera_id,
            self.zone.id,
            *args,
            stacklevel=2,
        )

    def _out_of_order(self, ts: datetime) -> bool:
        """Whether a frame at ``ts`` is older than the last one (then it is logged and
        ignored); otherwise ``ts`` becomes the last frame's time."""
        if self._last_ts is not None and ts < self._last_ts:
            self._log(
                logging.WARNING,
                "frame at %s is older than the last one (%s); ignored",
                ts.isoformat(),
                self._last_ts.isoformat(),
            )
            return True
        self._last_ts = ts
        return False

    def _rule_event(
        self,
        event_id: str | None,
        phase: EventPhase,
        first_seen: datetime | None,
        last_seen: datetime,
        subject: Subject,
        details: Mapping[str, DetailValue],
        attachments: tuple[Attachment, ...] = (),
    ) -> RuleEvent:
        """One event of this rule's zone and camera; ``dwell_s`` is ``last_seen - first_seen``.

        Args:
            event_id: The case (must be open).
            phase: Start, update or end.
            first_seen: Since when the violation lasts (must be known).
            last_seen: When it was last seen.
            subject: What is in violation.
            details: Rule-specific facts.
            attachments: Rule-specific evidence.
        """
        assert event_id is not None and first_seen is not None
        return RuleEvent(
            event_id=event_id,
            phase=phase,
            camera_id=self.camera_id,
            zone_id=self.zone.id,
            rule=self.rule_name,
            violation_type=self.violation_type,
            label=subject.label,
            confidence=subject.confidence,
            xyxy=subject.xyxy,
            tracker_id=subject.tracker_id,
            first_seen=first_seen,
            last_seen=last_seen,
            dwell_s=(last_seen - first_seen).total_seconds(),
            details=details,
            attachments=attachments,
        )
