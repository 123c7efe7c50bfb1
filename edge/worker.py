"""The edge worker: per camera, frames -> analysis -> rule events -> wire events -> outbox.

Each camera runs in its own thread with its own reader (bounded queue, newest frame
wins for live streams); one failing camera never stops the others. The analysis itself
(detect, label map, track, rules) is :class:`edge.analysis.Analyzer`; the worker's own job
is what follows it: every rule event becomes a ``contracts.ZoneEvent`` whose evidence is
enqueued before it, in one atomic outbox write, and the publisher thread delivers the
outbox to the broker.

A running worker takes changes without dropping a stream (:meth:`EdgeWorker.apply_zones`,
:meth:`~EdgeWorker.add_camera`, :meth:`~EdgeWorker.remove_camera`,
:meth:`~EdgeWorker.swap_detector`): each is applied to a camera between two of its analysed
frames (it waits for the camera's frame in progress, never for the next one).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from contracts import EventPhase, ZoneEvent, topics
from contracts.events import Box
from edge.analysis import Analyzer, StageTimes
from edge.chain import EdgeChain
from edge.config import CameraConfig, EdgeConfig
from edge.detectors import Detector, create_detector
from edge.detectors.base import Releasable
from edge.evidence import Annotation, EvidenceItem, snapshot_set
from edge.gating import ChangeGate
from edge.metrics import MetricsServer, start_metrics_server
from edge.mqtt import Publisher
from edge.outbox import Outbox, PendingMessage
from edge.rules import RuleEvent, RuleResources, attachment_items
from edge.scheduling.batch import BatchedDetector, BatchRunner
from edge.scheduling.due import PhasedLimiter, camera_phase
from edge.sensors import SensorHub, SensorInbox, SensorSubscriber, make_sensor_subscriber
from edge.sources import FrameReader, open_source
from edge.types import Frame
from zones.config import CameraZones, load_zone_file
from zones.geometry import ZoneGeometry

logger = logging.getLogger(__name__)

__all__ = ["CameraPipeline", "CaseStartCallback", "EdgeWorker", "StageTimes"]

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
        self.lock = threading.Lock()
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


@dataclass(slots=True)
class _Running:
    """A started camera: its reader, its analysis thread and its own stop event."""

    reader: FrameReader
    thread: threading.Thread
    stop: threading.Event


class EdgeWorker:
    """All cameras of one edge, the outbox and the publisher.

    Args:
        config: The edge's configuration.
        on_case_start: Called with ``(camera_id, event)`` after each START event is
            enqueued (event clips); may be set later as :attr:`on_case_start`. It runs on the
            camera's analysis thread: keep it short.
    """

    def __init__(
        self, config: EdgeConfig, *, on_case_start: CaseStartCallback | None = None
    ) -> None:
        self.config = config
        self.on_case_start = on_case_start
        self.stop_event = threading.Event()
        self._lock = threading.Lock()  # camera membership
        self._swap_lock = threading.Lock()  # one detector swap at a time
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
        self._detector: Detector = create_detector(detector_config)
        scheduling = config.scheduling
        self.batches: BatchRunner | None = (
            BatchRunner(scheduling.max_batch, scheduling.max_wait_ms / 1000.0)
            if scheduling.max_batch > 1
            else None
        )
        self.outbox = Outbox(config.outbox_path)
        self.chain = (
            EdgeChain.from_config(self.outbox, config.chain, edge_id=config.edge_id)
            if config.chain is not None
            else None
        )
        self.publisher = Publisher(
            edge_id=config.edge_id, config=config.mqtt, outbox=self.outbox, chain=self.chain
        )
        self._pipelines: dict[str, CameraPipeline] = {}
        self._running: dict[str, _Running] = {}
        self._started = False
        cameras = [c for c in config.cameras if c.enabled]
        for camera in config.cameras:
            if not camera.enabled:
                logger.info("camera %s is disabled", camera.id)
        all_zones = {camera.id: load_zone_file(camera.zones) for camera in cameras}
        self.resources = RuleResources()
        self._load_truck_resources(all_zones.values())
        self.sensor_hub = SensorHub(config.sensors.inbox_capacity)
        for camera in cameras:
            self._pipelines[camera.id] = self._pipeline(camera, all_zones[camera.id])
        self.sensors: SensorSubscriber | None = None
        if config.sensors.enabled and self.sensor_hub.sites:
            self.sensors = make_sensor_subscriber(  # None (an ERROR) without its own login
                edge_id=config.edge_id,
                mqtt_config=config.mqtt,
                config=config.sensors,
                hub=self.sensor_hub,
            )
        self.metrics_server: MetricsServer | None = None

    # ------------------------------------------------------------------ cameras and models

    @property
    def detector(self) -> Detector:
        """The detector every camera uses (changed by :meth:`swap_detector`)."""
        return self._detector

    @property
    def pipelines(self) -> list[CameraPipeline]:
        """The cameras' pipelines, in the order they were added (a snapshot)."""
        with self._lock:
            return list(self._pipelines.values())

    @property
    def readers(self) -> list[FrameReader]:
        """The started cameras' readers, in the order of :attr:`pipelines` (a snapshot)."""
        with self._lock:
            return [self._running[c].reader for c in self._pipelines if c in self._running]

    def pipeline(self, camera_id: str) -> CameraPipeline:
        """The pipeline of ``camera_id``.

        Raises:
            KeyError: No such camera on this edge.
        """
        with self._lock:
            found = self._pipelines.get(camera_id)
        if found is None:
            raise KeyError(f"no camera {camera_id!r} on edge {self.config.edge_id}")
        return found

    def _load_truck_resources(self, zone_sets: Iterable[CameraZones]) -> None:
        """Load the cover classifier (and plate reader) once, when a road zone needs them."""
        if self.resources.cover_classifier is not None:
            return
        if not any(z.kind.value == "road" for zs in zone_sets for z in zs.zones):
            return
        from edge.rules.cover import OnnxCoverClassifier

        try:
            self.resources = RuleResources(
                cover_classifier=OnnxCoverClassifier(self.config.rules.muck_truck.cover_model)
            )
        except (OSError, ValueError) as exc:
            logger.error("cover classifier not loaded, truck rules will not run: %s", exc)
        plates = self.config.rules.muck_truck.plate_reader
        if plates is not None:  # optional, installed by the operator (sha256 checked)
            from edge.plates import PlateReader

            try:
                self.resources = RuleResources(
                    cover_classifier=self.resources.cover_classifier,
                    plate_reader=PlateReader.from_settings(plates),
                )
            except (OSError, ValueError) as exc:
                logger.error("plate reader not loaded, truck cases will say so: %s", exc)

    def _bound(self, detector: Detector) -> Detector:
        """``detector`` as the cameras call it: through the shared batches, if batching."""
        return detector if self.batches is None else BatchedDetector(detector, self.batches)

    def _pipeline(self, camera: CameraConfig, zones: CameraZones) -> CameraPipeline:
        sites = {z.site_id for z in zones.zones if z.site_id is not None}
        gating = self.config.scheduling.gating
        gated = gating.enabled and camera.profile == "stationary"
        gate = ChangeGate(gating, zones) if gated else None
        return CameraPipeline(
            config=self.config,
            camera=camera,
            zones=zones,
            detector=self._bound(self._detector),
            gate=gate,
            outbox=self.outbox,
            chain=self.chain,
            resources=self.resources,
            sensor_inbox=self.sensor_hub.register(camera.id, sites) if sites else None,
            on_case_start=self._case_started,
        )

    def _case_started(self, camera_id: str, event: ZoneEvent) -> None:
        callback = self.on_case_start
        if callback is not None:
            callback(camera_id, event)

    def apply_zones(self, camera_id: str, zones: CameraZones) -> None:
        """Give a camera new zones, between two of its analysed frames; its stream goes on.

        Rules of unchanged zones keep their open cases, and the tracker keeps its tracks;
        an open case whose zone vanished (or changed) is ended with an END event whose
        ``details["end_reason"]`` is ``zone_removed`` (``zone_changed``).

        Raises:
            KeyError: No such camera.
            ValueError: ``zones`` is for another camera.
        """
        if zones.camera_id != camera_id:
            raise ValueError(f"zones are for camera {zones.camera_id!r}, not {camera_id!r}")
        pipeline = self.pipeline(camera_id)
        self._load_truck_resources([zones])
        if pipeline.analyzer.resources is not self.resources:
            pipeline.analyzer.resources = self.resources  # a road zone was added
        pipeline.apply_zones(zones)

    def add_camera(self, camera: CameraConfig, zones: CameraZones) -> None:
        """Add a camera (started at once if the worker runs).

        Raises:
            ValueError: The id is taken, or ``zones`` is for another camera.
        """
        if zones.camera_id != camera.id:
            raise ValueError(f"zones are for camera {zones.camera_id!r}, not {camera.id!r}")
        self._load_truck_resources([zones])
        with self._lock:
            if camera.id in self._pipelines:
                raise ValueError(f"camera {camera.id!r} is already on edge {self.config.edge_id}")
            pipeline = self._pipeline(camera, zones)
            self._pipelines[camera.id] = pipeline
            if self._started and not self.stop_event.is_set():
                self._start_camera(pipeline)
        logger.info("camera %s added", camera.id)

    def remove_camera(self, camera_id: str, *, timeout_s: float = 10.0) -> None:
        """Stop a camera's reader and analysis, and end its open cases (``camera_removed``).

        Raises:
            KeyError: No such camera.
        """
        with self._lock:
            pipeline = self._pipelines.pop(camera_id, None)
            running = self._running.pop(camera_id, None)
        if pipeline is None:
            raise KeyError(f"no camera {camera_id!r} on edge {self.config.edge_id}")
        if running is not None:
            running.stop.set()
            running.reader.stop(timeout_s)
            running.thread.join(timeout_s)
        pipeline.close("camera_removed")
        logger.info("camera %s removed", camera_id)

    def swap_detector(self, detector: Detector) -> None:
        """Detect with ``detector`` on every camera from its next frame; release the old one.

        Each camera switches between two of its analysed frames (tracks and open cases are
        kept); once all have, the old detector is closed if it can be.

        Raises:
            LabelMapError: The label map does not fit the new model's classes (no camera
                switched then).
        """
        with self._swap_lock:
            for pipeline in self.pipelines:  # refuse before any camera switches
                pipeline.analyzer.lookup(detector.names)
            old, self._detector = self._detector, detector
            bound = self._bound(detector)
            for pipeline in self.pipelines:
                pipeline.set_detector(bound)
            logger.info(
                "detector swapped: %s (%s) -> %s (%s)",
                old.model.name,
                old.model.sha256[:12],
                detector.model.name,
                detector.model.sha256[:12],
            )
            if old is not detector and isinstance(old, Releasable):
                old.close()

    # ------------------------------------------------------------------------- running

    def start(self) -> None:
        self.metrics_server = start_metrics_server(self.config.metrics, self)
        self.publisher.start()
        if self.sensors is not None:
            self.sensors.start()
        with self._lock:
            self._started = True
            for pipeline in self._pipelines.values():
                self._start_camera(pipeline)
        logger.info(
            "edge %s: %d camera(s) running with model %s (%s) on %s",
            self.config.edge_id,
            len(self._running),
            self._detector.model.name,
            self._detector.model.sha256[:12],
            ", ".join(self._detector.providers),
        )

    def _start_camera(self, pipeline: CameraPipeline) -> None:
        """Open the camera's source and start its reader and thread (``_lock`` held)."""
        stop = threading.Event()
        camera = pipeline.camera
        source = open_source(camera.id, camera.source)
        fps = camera.rate_fps(self.config.scheduling)
        limiter = None
        if self.config.scheduling.spread and source.live:  # files keep their media-time grid
            limiter = PhasedLimiter(fps, phase_s=camera_phase(camera.id, 1.0 / fps))
        reader = FrameReader(source, analysis_fps=fps, stop_event=stop, limiter=limiter)
        thread = threading.Thread(
            target=self._run_camera,
            args=(pipeline, reader, stop),
            name=f"camera-{pipeline.camera.id}",
            daemon=True,
        )
        self._running[pipeline.camera.id] = _Running(reader, thread, stop)
        reader.start()
        thread.start()

    def _run_camera(
        self, pipeline: CameraPipeline, reader: FrameReader, stop: threading.Event
    ) -> None:
        while not (self.stop_event.is_set() or stop.is_set()):
            frame = reader.get(timeout_s=0.5)
            if frame is None:
                if reader.finished:
                    if reader.error is not None:
                        logger.error(
                            "camera %s: source stopped: %s", pipeline.camera.id, reader.error
                        )
                    elif not stop.is_set():
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
        with self._lock:
            running = list(self._running.values())
        for camera in running:
            camera.stop.set()
            camera.reader.stop()
        for camera in running:
            camera.thread.join(timeout=timeout_s)
        if self.batches is not None:
            self.batches.stop()
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
        with self._lock:
            cameras = [(p, self._running.get(c)) for c, p in self._pipelines.items()]
        for pipeline, running in cameras:
            if running is None:
                continue
            stats = running.reader.stats()
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
