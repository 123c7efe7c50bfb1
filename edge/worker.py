"""The edge worker: per camera, frames -> analysis -> rule events -> wire events -> outbox.

Each camera runs in its own thread with its own reader (bounded queue, newest frame
wins for live streams); one failing camera never stops the others. The analysis itself
(detect, label map, track, rules) is :class:`edge.analysis.Analyzer`; the worker's own job
is what follows it: every rule event becomes a ``contracts.ZoneEvent`` whose evidence is
enqueued before it, in one atomic outbox write, and the publisher thread delivers the
outbox to the broker.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

import numpy as np

from contracts import EventPhase, ZoneEvent, topics
from contracts.events import Box
from edge.analysis import Analyzer, StageTimes
from edge.chain import EdgeChain
from edge.config import CameraConfig, EdgeConfig
from edge.detectors import Detector, create_detector
from edge.evidence import Annotation, EvidenceItem, snapshot_set
from edge.metrics import MetricsServer, start_metrics_server
from edge.mqtt import Publisher
from edge.outbox import Outbox, PendingMessage
from edge.rules import RuleEvent, RuleResources, attachment_items
from edge.sensors import SensorHub, SensorInbox, SensorSubscriber, make_sensor_subscriber
from edge.sources import FrameReader, open_source
from edge.types import Frame
from zones.config import CameraZones, load_zone_file
from zones.geometry import ZoneGeometry

logger = logging.getLogger(__name__)

__all__ = ["CameraPipeline", "EdgeWorker", "StageTimes"]


class CameraPipeline:
    """One camera: its :class:`~edge.analysis.Analyzer`, then rule events to the outbox.

    ``process`` is synchronous and has no network I/O. ``times`` is the analyzer's
    :class:`~edge.analysis.StageTimes`; the pipeline adds the evidence time and errors.
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
        self.analyzer = Analyzer(
            zones=zones,
            detector=detector,
            label_map=config.label_map,
            tracker=config.tracker,
            settings=config.rules,
            resources=resources,
        )
        self.times: StageTimes = self.analyzer.times
        self._geometry: dict[str, ZoneGeometry] = {}
        self._geometry_wh: tuple[int, int] | None = None

    def process(self, frame: Frame) -> list[ZoneEvent]:
        """Analyse one frame; enqueue and return the events it produced."""
        readings = self.sensor_inbox.drain() if self.sensor_inbox is not None else ()
        analysis = self.analyzer.analyse(frame, readings=readings)
        t0 = time.perf_counter()
        events = self.emit(analysis.events, frame)
        with self.times.lock:
            self.times.evidence_s += time.perf_counter() - t0
        return events

    def emit(self, rule_events: list[RuleEvent], frame: Frame) -> list[ZoneEvent]:
        """Turn rule events into wire events; enqueue them with their evidence atomically.

        Each event's evidence messages precede it in the outbox, so the server usually has
        the bytes before the event that references them.
        """
        if not rule_events:
            return []
        self._project_zones(frame.resolution_wh)  # zone geometry for the annotations
        events: list[ZoneEvent] = []
        messages: list[PendingMessage] = []
        for rule_event in rule_events:
            event, items = self._to_wire(rule_event, frame)
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
        return events

    def _project_zones(self, resolution_wh: tuple[int, int]) -> None:
        if resolution_wh != self._geometry_wh:
            self._geometry = {z.id: ZoneGeometry(z, resolution_wh) for z in self.zones.zones}
            self._geometry_wh = resolution_wh

    def _to_wire(self, rule_event: RuleEvent, frame: Frame) -> tuple[ZoneEvent, list[EvidenceItem]]:
        items: list[EvidenceItem] = []
        if rule_event.phase is EventPhase.START:
            items = snapshot_set(
                frame.image, self._annotation(rule_event), frame.ts, self.config.evidence
            )
        elif rule_event.phase is EventPhase.UPDATE:
            # the situation now: annotated frame and crop (the clean frame is in the start)
            items = snapshot_set(
                frame.image, self._annotation(rule_event), frame.ts, self.config.evidence
            )[1:]
        # rule-specific evidence: a truck's load and plate crops, a sensor series (JSON)
        items += attachment_items(rule_event, self.config.evidence.jpeg_quality)
        x1, y1, x2, y2 = (float(v) for v in rule_event.xyxyn(frame.resolution_wh))
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


class EdgeWorker:
    """All cameras of one edge, the outbox and the publisher."""

    def __init__(self, config: EdgeConfig) -> None:
        self.config = config
        self.stop_event = threading.Event()
        detector_config = config.detector
        if config.model_registry is not None:
            from edge.registry import load_registry, verify_model

            entry = verify_model(detector_config.path, load_registry(config.model_registry))
            # events record the registry's name and version unless the config overrides them
            detector_config = detector_config.model_copy(
                update={
                    "name": detector_config.name or entry.name,
                    "version": detector_config.version or entry.version,
                }
            )
        self.detector = create_detector(detector_config)
        self.outbox = Outbox(config.outbox_path)
        self.chain = (
            EdgeChain.from_config(self.outbox, config.chain, edge_id=config.edge_id)
            if config.chain is not None
            else None
        )
        self.publisher = Publisher(
            edge_id=config.edge_id, config=config.mqtt, outbox=self.outbox, chain=self.chain
        )
        self.pipelines: list[CameraPipeline] = []
        self.readers: list[FrameReader] = []
        cameras = [c for c in config.cameras if c.enabled]
        for camera in config.cameras:
            if not camera.enabled:
                logger.info("camera %s is disabled", camera.id)
        all_zones = {camera.id: load_zone_file(camera.zones) for camera in cameras}
        # One cover classifier for every camera with a road zone (loaded once).
        self.resources = RuleResources()
        if any(z.kind.value == "road" for zs in all_zones.values() for z in zs.zones):
            from edge.rules.cover import OnnxCoverClassifier

            try:
                self.resources = RuleResources(
                    cover_classifier=OnnxCoverClassifier(config.rules.muck_truck.cover_model)
                )
            except (OSError, ValueError) as exc:
                logger.error("cover classifier not loaded, truck rules will not run: %s", exc)
            plates = config.rules.muck_truck.plate_reader
            if plates is not None:  # optional, installed by the operator (sha256 checked)
                from edge.plates import PlateReader

                try:
                    self.resources = RuleResources(
                        cover_classifier=self.resources.cover_classifier,
                        plate_reader=PlateReader.from_settings(plates),
                    )
                except (OSError, ValueError) as exc:
                    logger.error("plate reader not loaded, truck cases will say so: %s", exc)
        self.sensor_hub = SensorHub(config.sensors.inbox_capacity)
        for camera in cameras:
            zones = all_zones[camera.id]
            sites = {z.site_id for z in zones.zones if z.site_id is not None}
            self.pipelines.append(
                CameraPipeline(
                    config=config,
                    camera=camera,
                    zones=zones,
                    detector=self.detector,
                    outbox=self.outbox,
                    chain=self.chain,
                    resources=self.resources,
                    sensor_inbox=self.sensor_hub.register(camera.id, sites) if sites else None,
                )
            )
        self.sensors: SensorSubscriber | None = None
        if config.sensors.enabled and self.sensor_hub.sites:
            self.sensors = make_sensor_subscriber(  # None (an ERROR) without its own login
                edge_id=config.edge_id,
                mqtt_config=config.mqtt,
                config=config.sensors,
                hub=self.sensor_hub,
            )
        self._threads: list[threading.Thread] = []
        self.metrics_server: MetricsServer | None = None

    def start(self) -> None:
        self.metrics_server = start_metrics_server(self.config.metrics, self)
        self.publisher.start()
        if self.sensors is not None:
            self.sensors.start()
        for pipeline in self.pipelines:
            source = open_source(pipeline.camera.id, pipeline.camera.source)
            reader = FrameReader(
                source, analysis_fps=pipeline.camera.analysis_fps, stop_event=self.stop_event
            )
            self.readers.append(reader)
            thread = threading.Thread(
                target=self._run_camera,
                args=(pipeline, reader),
                name=f"camera-{pipeline.camera.id}",
                daemon=True,
            )
            self._threads.append(thread)
            reader.start()
            thread.start()
        logger.info(
            "edge %s: %d camera(s) running with model %s (%s) on %s",
            self.config.edge_id,
            len(self.pipelines),
            self.detector.model.name,
            self.detector.model.sha256[:12],
            ", ".join(self.detector.providers),
        )

    def _run_camera(self, pipeline: CameraPipeline, reader: FrameReader) -> None:
        while not self.stop_event.is_set():
            frame = reader.get(timeout_s=0.5)
            if frame is None:
                if reader.finished:
                    if reader.error is not None:
                        logger.error(
                            "camera %s: source stopped: %s", pipeline.camera.id, reader.error
                        )
                    else:
                        logger.info("camera %s: end of source", pipeline.camera.id)
                    return
                continue
            try:
                pipeline.process(frame)
            except Exception:
                # One bad frame (or a bug on one camera) must not stop the others.
                with pipeline.times.lock:
                    pipeline.times.errors += 1
                logger.exception(
                    "camera %s: analysing frame %d failed; continuing",
                    pipeline.camera.id,
                    frame.seq,
                )

    def stop(self, timeout_s: float = 5.0) -> None:
        self.stop_event.set()
        for reader in self.readers:
            reader.stop()
        for thread in self._threads:
            thread.join(timeout=timeout_s)
        if self.sensors is not None:
            self.sensors.stop()
        self.publisher.stop()
        if self.metrics_server is not None:
            self.metrics_server.stop()
        if self.chain is not None:
            self.chain.close()
        self.outbox.close()

    def log_status(self) -> None:
        """One line per camera: frames analysed, events, errors, source state, drops."""
        for pipeline, reader in zip(self.pipelines, self.readers, strict=True):
            stats = reader.stats()
            times = pipeline.times
            with times.lock:
                frames, events, errors = times.frames, times.events, times.errors
                detect_ms = 1000 * times.detect_s / frames if frames else 0.0
            logger.info(
                "camera %s: source %s, %d frames analysed (detect %.1f ms avg), %d events, "
                "%d errors, %d frames dropped, %d reconnects; outbox %d pending",
                pipeline.camera.id,
                stats.source.state.value,
                frames,
                detect_ms,
                events,
                errors,
                stats.frames_dropped,
                stats.source.reconnects,
                self.outbox.count(),
            )

    def run_forever(self, status_interval_s: float = 60.0) -> None:
        self.start()
        next_status = time.monotonic() + status_interval_s
        try:
            while not self.stop_event.wait(1.0):
                if time.monotonic() >= next_status:
                    self.log_status()
                    next_status += status_interval_s
        finally:
            self.stop()
