"""One camera's pipeline: its :class:`~edge.analysis.Analyzer`, then rule events to the outbox.

Every rule event becomes a ``contracts.ZoneEvent`` whose evidence is enqueued before it, in one
atomic outbox write (with its signed chain record when the edge signs). Changes to a running
camera (zones, detector, closing) are taken under the pipeline's lock, so they land between
two analysed frames.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np

from contracts import EventPhase, ZoneEvent, topics
from contracts.events import Box
from edge.analysis import Analyzer, StageTimes
from edge.chain import EdgeChain
from edge.config import CameraConfig, EdgeConfig
from edge.detectors import Detector
from edge.evidence import Annotation, EvidenceItem, snapshot_set
from edge.gating import ChangeGate
from edge.outbox import Outbox, PendingMessage
from edge.rules import RuleEvent, RuleResources, attachment_items
from edge.sensors import SensorInbox
from edge.types import Frame
from zones.config import CameraZones
from zones.geometry import ZoneGeometry

logger = logging.getLogger(__name__)

__all__ = ["CameraPipeline", "CaseStartCallback"]

CaseStartCallback = Callable[[str, ZoneEvent], None]
"""Called with ``(camera_id, event)`` after a START event (and its evidence) is enqueued."""


class CameraPipeline:
    """One camera: its :class:`~edge.analysis.Analyzer`, then rule events to the outbox.

    ``process`` is synchronous and has no network I/O. ``times`` is the analyzer's
    :class:`~edge.analysis.StageTimes`; the pipeline adds the evidence time and errors.
    ``lock`` is held for a whole frame: a change taken under it (zones, detector, close)
    lands between two frames.
    """

    def __init__(
        self,
        *,
        config: EdgeConfig,
        camera: CameraConfig,
        zones: CameraZones,
        detector: Detector,
        outbox: Outbox,
        chain: EdgeChain | None = None,
        resources: RuleResources | None = None,
        sensor_inbox: SensorInbox | None = None,
        on_case_start: CaseStartCallback | None = None,
        gate: ChangeGate | None = None,
    ) -> None:
        if zones.camera_id != camera.id:
            raise ValueError(
                f"zone file {camera.zones} is for camera {zones.camera_id!r}, not {camera.id!r}"
            )
        self.config = config
        self.camera = camera
        self.zones = zones
        self.detector = detector
        self.outbox = outbox
        self.chain = chain
        self.sensor_inbox = sensor_inbox
        self.on_case_start = on_case_start
        self.lock = threading.RLock()  # a case-start listener may call back on this thread
        self.closed = False
        self.analyzer = Analyzer(
            zones=zones,
            detector=detector,
            label_map=config.label_map,
            tracker=config.tracker,
            settings=config.rules,
            resources=resources,
            gate=gate,
        )
        self.times: StageTimes = self.analyzer.times
        self._geometry: dict[str, ZoneGeometry] = {}
        self._geometry_wh: tuple[int, int] | None = None

    def process(self, frame: Frame) -> list[ZoneEvent]:
        """Analyse one frame; enqueue and return the events it produced.

        A pipeline closed by :meth:`close` analyses nothing more (returns no events).
        """
        with self.lock:
            if self.closed:
                return []
            readings = self.sensor_inbox.drain() if self.sensor_inbox is not None else ()
            analysis = self.analyzer.analyse(frame, readings=readings)
            t0 = time.perf_counter()
            events = self.emit(analysis.events, frame)
            with self.times.lock:
                self.times.evidence_s += time.perf_counter() - t0
            return events

    def apply_zones(self, zones: CameraZones) -> list[ZoneEvent]:
        """Watch ``zones`` from the next frame on; returns the END events of vanished cases.

        Rules of unchanged zones keep their open cases; an open case whose zone was removed
        or changed ends now with ``details["end_reason"]`` ``zone_removed`` or
        ``zone_changed`` (see :meth:`edge.analysis.Analyzer.set_zones`).

        Raises:
            ValueError: ``zones`` is for another camera.
        """
        with self.lock:
            ended = self.analyzer.set_zones(zones)
            self.zones = zones
            self._geometry_wh = None  # re-project for the annotations
            return self.emit(ended, None)

    def set_detector(self, detector: Detector) -> None:
        """Detect with ``detector`` from the next frame on (tracks and cases are kept).

        Raises:
            LabelMapError: The label map does not fit the new model's classes.
        """
        with self.lock:
            self.analyzer.set_detector(detector)
            self.detector = detector

    def close(self, reason: str) -> list[ZoneEvent]:
        """End every open case with ``details["end_reason"] = reason``; analyse no more."""
        with self.lock:
            self.closed = True
            return self.emit(self.analyzer.close(reason=reason), None)

    def emit(self, rule_events: list[RuleEvent], frame: Frame | None) -> list[ZoneEvent]:
        """Turn rule events into wire events; enqueue them with their evidence atomically.

        Each event's evidence messages precede it in the outbox, so the server usually has
        the bytes before the event that references them. ``frame`` is the analysed frame
        the events came from; ``None`` for END events the worker caused between frames
        (zones changed, camera removed), which carry no snapshot.
        """
        if not rule_events:
            return []
        resolution_wh = frame.resolution_wh if frame is not None else self.analyzer.resolution_wh
        if resolution_wh is None:
            raise RuntimeError(f"camera {self.camera.id}: events before the first frame")
        self._project_zones(resolution_wh)  # zone geometry for the annotations
        events: list[ZoneEvent] = []
        messages: list[PendingMessage] = []
        for rule_event in rule_events:
            if frame is None and rule_event.phase is not EventPhase.END:
                raise ValueError(f"a {rule_event.phase.value} event needs its frame")
            event, items = self._to_wire(rule_event, frame, resolution_wh)
            for item in items:
                messages.append(
                    PendingMessage(
                        topic=topics.evidence_topic(self.config.edge_id, item.sha256),
                        payload=item.data,
                        content_type=item.content_type,
                    )
                )
            messages.append(
                PendingMessage(
                    topic=topics.event_topic(self.config.edge_id, self.camera.id),
                    payload=event.to_json(),
                    content_type="application/json",
                )
            )
            events.append(event)
            logger.info(
                "camera %s zone %s: %s %s %s (dwell %.0f s, event %s)",
                self.camera.id,
                event.zone_id,
                event.violation_type.value,
                event.phase.value,
                event.label,
                event.dwell_s,
                event.event_id,
            )
        if self.chain is not None:
            # events, evidence and one signed chain record per event, in one transaction
            self.chain.enqueue(messages, events)
        else:
            self.outbox.put_many(messages)
        if self.on_case_start is not None:
            for event in events:
                if event.phase is EventPhase.START:
                    self._case_started(event)
        return events

    def _case_started(self, event: ZoneEvent) -> None:
        assert self.on_case_start is not None
        try:
            self.on_case_start(self.camera.id, event)
        except Exception:  # a listener's bug must not lose the camera's next frames
            logger.exception(
                "camera %s: the case-start listener failed on event %s",
                self.camera.id,
                event.event_id,
            )

    def _project_zones(self, resolution_wh: tuple[int, int]) -> None:
        if resolution_wh != self._geometry_wh:
            self._geometry = {z.id: ZoneGeometry(z, resolution_wh) for z in self.zones.zones}
            self._geometry_wh = resolution_wh

    def _to_wire(
        self, rule_event: RuleEvent, frame: Frame | None, resolution_wh: tuple[int, int]
    ) -> tuple[ZoneEvent, list[EvidenceItem]]:
        items: list[EvidenceItem] = []
        if frame is not None and rule_event.phase is EventPhase.START:
            items = snapshot_set(
                frame.image, self._annotation(rule_event), frame.ts, self.config.evidence
            )
        elif frame is not None and rule_event.phase is EventPhase.UPDATE:
            # the situation now: annotated frame and crop (the clean frame is in the start)
            items = snapshot_set(
                frame.image, self._annotation(rule_event), frame.ts, self.config.evidence
            )[1:]
        # rule-specific evidence: a truck's load and plate crops, a sensor series (JSON)
        items += attachment_items(rule_event, self.config.evidence.jpeg_quality)
        x1, y1, x2, y2 = (float(v) for v in rule_event.xyxyn(resolution_wh))
        event = ZoneEvent(
            event_id=rule_event.event_id,
            phase=rule_event.phase,
            edge_id=self.config.edge_id,
            camera_id=self.camera.id,
            zone_id=rule_event.zone_id,
            rule=rule_event.rule,
            violation_type=rule_event.violation_type,
            label=rule_event.label,
            confidence=rule_event.confidence,
            box=Box(x1=x1, y1=y1, x2=x2, y2=y2),
            first_seen=rule_event.first_seen,
            last_seen=rule_event.last_seen,
            dwell_s=rule_event.dwell_s,
            model=self.detector.model,
            evidence=[item.ref() for item in items],
            details=dict(rule_event.details),
            sent_at=datetime.now(UTC),
        )
        return event, items

    def _annotation(self, rule_event: RuleEvent) -> Annotation:
        geometry = self._geometry[rule_event.zone_id]
        zone = self.zones.zone(rule_event.zone_id)
        return Annotation(
            zone_polygon_px=np.asarray(geometry.polygon_px, dtype=np.float32),
            zone_label=f"{self.camera.id}/{zone.id} {zone.name}",
            box_xyxy=rule_event.xyxy,
            box_label=f"{rule_event.label} {rule_event.confidence:.2f} #{rule_event.tracker_id}",
        )
