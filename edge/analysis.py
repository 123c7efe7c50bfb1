"""The analysis pipeline of one camera: detect -> label map -> track -> rules.

This is the one implementation of the edge's analysis; the worker, the offline replay, the
rule-scenario harness, the evaluation and the benches all call it, so what they measure is
what the edge runs. It does no network or file I/O: frames come in, rule events come out.

Example:
    >>> from datetime import UTC, datetime
    >>> import numpy as np
    >>> from edge.types import Detections, Frame
    >>> from zones.config import CameraZones
    >>> analyzer = Analyzer(zones=CameraZones(camera_id="cam-1", zones=[]))
    >>> frame = Frame("cam-1", 0, datetime(2026, 6, 2, tzinfo=UTC), np.zeros((8, 8, 3), np.uint8))
    >>> result = analyzer.analyse(frame, detections=Detections.empty(("person",)))
    >>> result.events
    []
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np

from edge.detectors import Detector
from edge.detectors.labels import LabelLookup, LabelMapConfig, resolve_label_map
from edge.gating import ChangeGate
from edge.rules.base import RuleResources
from edge.rules.engine import RuleEngine
from edge.rules.events import RuleEvent
from edge.rules.settings import RulesSettings
from edge.sensors.samples import SensorSample
from edge.tracking import ByteTrackSettings, SimpleTrackerSettings, Tracker, create_tracker
from edge.types import Detections, Frame
from zones.config import CameraZones

logger = logging.getLogger(__name__)

END_REASON = "end_reason"
"""The ``details`` key of an END event that the worker ended for a reason of its own (its zone
was removed or changed, its camera was removed) rather than because the violation ended."""


def with_end_reason(event: RuleEvent, reason: str) -> RuleEvent:
    """``event`` with ``details["end_reason"] = reason`` (an END the worker caused)."""
    return replace(event, details={**event.details, END_REASON: reason})


@dataclass
class StageTimes:
    """Seconds spent per stage, summed over analysed frames (for health and benchmarks)."""

    frames: int = 0
    detect_s: float = 0.0
    track_s: float = 0.0
    rules_s: float = 0.0
    evidence_s: float = 0.0
    gated: int = 0
    """Frames analysed with the last inference's detections (change gating: nothing moved)."""
    events: int = 0
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


@dataclass(frozen=True, slots=True)
class Analysis:
    """What the analysis of one frame produced.

    Attributes:
        frame: The frame analysed.
        detections: Its label-mapped detections with tracker ids.
        events: Rule events it raised (start / update / end).
        detect_s: Seconds in the detector and label map (0 when detections were given).
        track_s: Seconds in the tracker.
        rules_s: Seconds in the rule engine.
        gated: The detector did not run: nothing moved in the zones since its last run,
            whose detections this frame re-used (change gating).
    """

    frame: Frame
    detections: Detections
    events: list[RuleEvent]
    detect_s: float
    track_s: float
    rules_s: float
    gated: bool = False


class Analyzer:
    """Detector, label map, tracker and rule engine of one camera.

    Args:
        zones: The camera's zones (0..1 coordinates).
        detector: The detector; may be omitted when every call passes ``detections``.
        label_map: Model classes -> object names (ignored without a detector).
        tracker: Tracker settings (ByteTrack by default).
        settings: Rule settings (defaults when omitted).
        resources: Shared models for the rules (the cover classifier).
        gate: Change gating: frames whose zones did not change re-use the last detections
            (see :mod:`edge.gating`); ``None``: the detector sees every frame.
    """

    def __init__(
        self,
        *,
        zones: CameraZones,
        detector: Detector | None = None,
        label_map: LabelMapConfig | None = None,
        tracker: ByteTrackSettings | SimpleTrackerSettings | None = None,
        settings: RulesSettings | None = None,
        resources: RuleResources | None = None,
        gate: ChangeGate | None = None,
    ) -> None:
        self.zones = zones
        self.gate = gate
        self._last_found: Detections | None = None
        self.detector = detector
        self.label_map = label_map or LabelMapConfig()
        self._lookups: dict[tuple[str, ...], LabelLookup] = {}
        self.labels: LabelLookup | None = (
            self.lookup(detector.names) if detector is not None else None
        )
        self.tracker: Tracker = create_tracker(tracker or ByteTrackSettings())
        self.settings = settings or RulesSettings()
        self.resources = resources
        self.times = StageTimes()
        self._engine: RuleEngine | None = None
        self._resolution: tuple[int, int] | None = None
        self._last_ts: datetime | None = None

    @property
    def engine(self) -> RuleEngine | None:
        """The rule engine, built at the first frame (rules keep their state in it)."""
        return self._engine

    @property
    def resolution_wh(self) -> tuple[int, int] | None:
        """The frame size the zones are projected to (``None`` before the first frame)."""
        return self._resolution

    def engine_for(self, resolution_wh: tuple[int, int]) -> RuleEngine:
        """The rule engine for frames of ``resolution_wh`` (rebuilt when the size changes)."""
        if self._engine is None or resolution_wh != self._resolution:
            if self._resolution is not None:
                logger.warning(
                    "camera %s: resolution changed %s -> %s; zones re-projected",
                    self.zones.camera_id,
                    self._resolution,
                    resolution_wh,
                )
            self._engine = RuleEngine(
                self.zones,
                resolution_wh=resolution_wh,
                settings=self.settings,
                resources=self.resources,
            )
            self._resolution = resolution_wh
        return self._engine

    def lookup(self, names: tuple[str, ...]) -> LabelLookup:
        """The label map resolved for a model with class ``names`` (cached per model)."""
        found = self._lookups.get(names)
        if found is None:
            found = resolve_label_map(self.label_map, names)
            self._lookups[names] = found
        return found

    def label(self, raw: Detections) -> Detections:
        """Map a detector's raw detections (model classes) to the objects rules speak of.

        Raises:
            LabelMapError: The label map names a class the detections' model does not have.
        """
        return self.lookup(raw.names).apply(raw)

    def detect(self, frame: Frame) -> Detections:
        """The frame's label-mapped detections (no tracking)."""
        if self.detector is None:
            raise RuntimeError("this analyzer has no detector: pass the detections")
        return self.label(self.detector.detect(frame.image))

    def set_detector(self, detector: Detector) -> None:
        """Use ``detector`` from the next frame on (tracks and open cases are kept).

        Raises:
            LabelMapError: The label map cannot be resolved for the new model's classes
                (nothing changes then).
        """
        labels = self.lookup(detector.names)
        self.detector, self.labels = detector, labels

    def set_zones(self, zones: CameraZones) -> list[RuleEvent]:
        """Watch ``zones`` from the next frame on; returns the END events this causes.

        The tracker is kept (tracks do not depend on zones). The rules of a zone whose
        definition is unchanged are kept with their open cases; a zone that vanished or
        changed has its open cases ended now, with ``details["end_reason"]`` ``zone_removed``
        or ``zone_changed`` (a changed zone's rules start afresh on the new definition).

        Raises:
            ValueError: ``zones`` is for another camera.
        """
        if zones.camera_id != self.zones.camera_id:
            raise ValueError(
                f"zones are for camera {zones.camera_id!r}, not {self.zones.camera_id!r}"
            )
        old_zones = {z.id: z for z in self.zones.zones}
        new_zones = {z.id: z for z in zones.zones}
        self.zones = zones
        if self.gate is not None:
            self.gate.set_zones(zones)
        old_engine = self._engine
        if old_engine is None or self._resolution is None:
            return []  # built at the first frame
        kept = {i for i, z in new_zones.items() if old_zones.get(i) == z}
        ended: list[RuleEvent] = []
        when = self._last_ts
        for rule in old_engine.rules:
            if rule.zone_id in kept or when is None:
                continue
            reason = "zone_changed" if rule.zone_id in new_zones else "zone_removed"
            try:
                closed = rule.close(when)
            except Exception:
                logger.exception(
                    "camera %s: rule %s on zone %s failed to close",
                    zones.camera_id,
                    rule.name,
                    rule.zone_id,
                )
                continue
            ended.extend(with_end_reason(e, reason) for e in closed)
        engine = RuleEngine(
            zones, resolution_wh=self._resolution, settings=self.settings, resources=self.resources
        )
        old_rules = {(r.zone_id, r.name): r for r in old_engine.rules if r.zone_id in kept}
        engine.rules[:] = [old_rules.get((r.zone_id, r.name), r) for r in engine.rules]
        self._engine = engine
        logger.info(
            "camera %s: zones applied (%d kept, %d new or changed, %d removed)",
            zones.camera_id,
            len(kept),
            len(set(new_zones) - kept),
            len(set(old_zones) - set(new_zones)),
        )
        return ended

    def analyse(
        self,
        frame: Frame,
        *,
        detections: Detections | None = None,
        readings: Sequence[SensorSample] = (),
    ) -> Analysis:
        """Analyse one frame.

        Args:
            frame: The frame; its ``ts`` is the time the rules see.
            detections: Label-mapped detections to use instead of the detector's (ground
                truth in scenario tests, say).
            readings: Sensor samples that arrived since the previous frame.

        Returns:
            The tracked detections, the rule events and the time per stage.
        """
        engine = self.engine_for(frame.resolution_wh)
        t0 = time.perf_counter()
        gated = False
        if detections is not None:
            found = detections
        elif (
            self.gate is not None
            and self._last_found is not None
            and not self.gate.check(frame.image, frame.ts).infer
        ):
            found, gated = self._last_found, True
        else:
            found = self.detect(frame)
            if self.gate is not None:
                self.gate.inferred(frame.image, frame.ts)
                self._last_found = found.with_tracker_id(np.full(len(found), -1, np.int64))
        t1 = time.perf_counter()
        tracked = self.tracker.update(found, frame.ts)
        t2 = time.perf_counter()
        events = engine.update(
            tracked,
            frame.ts,
            image=frame.image,
            tracks=self.tracker.snapshot(),
            readings=readings,
        )
        t3 = time.perf_counter()
        self._last_ts = frame.ts
        detect_s = t1 - t0 if detections is None else 0.0
        with self.times.lock:
            self.times.frames += 1
            self.times.detect_s += detect_s
            self.times.gated += int(gated)
            self.times.track_s += t2 - t1
            self.times.rules_s += t3 - t2
            self.times.events += len(events)
        return Analysis(frame, tracked, events, detect_s, t2 - t1, t3 - t2, gated)

    def close(self, ts: datetime | None = None, *, reason: str | None = None) -> list[RuleEvent]:
        """End every open event (the stream ended, the camera is removed, the worker stops).

        Args:
            ts: The closing time; the last analysed frame's time when omitted.
            reason: Recorded as ``details["end_reason"]`` of each END event.
        """
        if self._engine is None:
            return []
        when = ts or self._last_ts
        if when is None:
            return []
        events = self._engine.close(when)
        return [with_end_reason(e, reason) for e in events] if reason else events
