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
from dataclasses import dataclass, field
from datetime import datetime

from edge.detectors import Detector
from edge.detectors.labels import LabelLookup, LabelMapConfig, resolve_label_map
from edge.rules.base import RuleResources
from edge.rules.engine import RuleEngine
from edge.rules.events import RuleEvent
from edge.rules.settings import RulesSettings
from edge.sensors.samples import SensorSample
from edge.tracking import ByteTrackSettings, SimpleTrackerSettings, Tracker, create_tracker
from edge.types import Detections, Frame
from zones.config import CameraZones

logger = logging.getLogger(__name__)


@dataclass
class StageTimes:
    """Seconds spent per stage, summed over analysed frames (for health and benchmarks)."""

    frames: int = 0
    detect_s: float = 0.0
    track_s: float = 0.0
    rules_s: float = 0.0
    evidence_s: float = 0.0
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
    """

    frame: Frame
    detections: Detections
    events: list[RuleEvent]
    detect_s: float
    track_s: float
    rules_s: float


class Analyzer:
    """Detector, label map, tracker and rule engine of one camera.

    Args:
        zones: The camera's zones (0..1 coordinates).
        detector: The detector; may be omitted when every call passes ``detections``.
        label_map: Model classes -> object names (ignored without a detector).
        tracker: Tracker settings (ByteTrack by default).
        settings: Rule settings (defaults when omitted).
        resources: Shared models for the rules (the cover classifier).
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
    ) -> None:
        self.zones = zones
        self.detector = detector
        self.labels: LabelLookup | None = (
            resolve_label_map(label_map or LabelMapConfig(), detector.names)
            if detector is not None
            else None
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

    def detect(self, frame: Frame) -> Detections:
        """The frame's label-mapped detections (no tracking)."""
        if self.detector is None or self.labels is None:
            raise RuntimeError("this analyzer has no detector: pass the detections")
        return self.labels.apply(self.detector.detect(frame.image))

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
        found = self.detect(frame) if detections is None else detections
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
            self.times.track_s += t2 - t1
            self.times.rules_s += t3 - t2
            self.times.events += len(events)
        return Analysis(frame, tracked, events, detect_s, t2 - t1, t3 - t2)

    def close(self, ts: datetime | None = None) -> list[RuleEvent]:
        """End every open event (the stream ended or the worker stops).

        Args:
            ts: The closing time; the last analysed frame's time when omitted.
        """
        if self._engine is None:
            return []
        when = ts or self._last_ts
        if when is None:
            return []
        return self._engine.close(when)
