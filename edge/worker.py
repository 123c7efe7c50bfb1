"""The edge worker: per camera, frames -> analysis -> rule events -> wire events -> outbox.

Each camera runs in its own thread with its own reader (bounded queue, newest frame
wins for live streams); one failing camera never stops the others. The analysis itself
(detect, label map, track, rules) is :class:`edge.analysis.Analyzer`, and what follows it
(wire events and evidence into the outbox) is :class:`edge.pipeline.CameraPipeline`; the
publisher thread delivers the outbox to the broker. Cameras may share inference batches and
look on spread due times (:mod:`edge.scheduling`), and stationary cameras may skip inference
on frames that did not change (:mod:`edge.gating`).

A running worker takes changes without dropping a stream (:meth:`EdgeWorker.apply_zones`,
:meth:`~EdgeWorker.add_camera`, :meth:`~EdgeWorker.remove_camera`,
:meth:`~EdgeWorker.swap_detector`): each is applied to a camera between two of its analysed
frames (it waits for the camera's frame in progress, never for the next one).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from contracts import ZoneEvent
from edge.analysis import StageTimes
from edge.chain import EdgeChain
from edge.config import CameraConfig, EdgeConfig
from edge.detectors import Detector, DetectorConfig, create_detector
from edge.detectors.base import Releasable
from edge.gating import ChangeGate
from edge.metrics import MetricsServer, start_metrics_server
from edge.mqtt import Publisher
from edge.outbox import Outbox
from edge.pipeline import CameraPipeline, CaseStartCallback
from edge.rules import RuleResources
from edge.scheduling.batch import BatchedDetector, BatchRunner
from edge.scheduling.config import Profile
from edge.scheduling.due import PhasedLimiter, camera_phase
from edge.sensors import SensorHub, SensorSubscriber, make_sensor_subscriber
from edge.sources import FrameReader, RtspSourceConfig, SourceConfig, open_source
from zones.config import CameraZones, load_zone_file

logger = logging.getLogger(__name__)

__all__ = ["CameraPipeline", "CaseStartCallback", "EdgeWorker", "StageTimes"]


def _load_detector(config: EdgeConfig, detector_config: DetectorConfig) -> Detector:
    """Verify the model against the registry (unless none is set), then load it."""
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
    return create_detector(detector_config)


def _source_config(camera: CameraConfig) -> SourceConfig:
    """The camera's source; a stationary RTSP camera decodes due keyframes only, unless its
    ``decode`` is set (it looks every few seconds: nothing between keyframes is needed)."""
    source = camera.source
    if (
        camera.profile == "stationary"
        and isinstance(source, RtspSourceConfig)
        and "decode" not in source.model_fields_set
    ):
        return source.model_copy(update={"decode": "keyframes"})
    return source


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
        self._detector: Detector = _load_detector(config, config.detector)
        road = config.scheduling.road_detector
        self._road_detector: Detector | None = (
            _load_detector(config, road) if road is not None else None
        )
        scheduling = config.scheduling
        batching = scheduling.max_batch > 1
        wait_s = scheduling.max_wait_ms / 1000.0
        self.batches: BatchRunner | None = (
            BatchRunner(scheduling.max_batch, wait_s) if batching else None
        )
        """The batches of every camera but the road cameras (``None`` without batching)."""
        self.road_batches: BatchRunner | None = (
            BatchRunner(scheduling.max_batch, wait_s) if batching else None
        )
        """Road cameras' own lane: a frame due every 0.2 s must not wait behind a batch of
        stationary cameras' looks."""
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
        """The detector the cameras use (road cameras: :attr:`road_detector` if one is set);
        changed by :meth:`swap_detector`."""
        return self._detector

    @property
    def road_detector(self) -> Detector | None:
        """The model of `profile: road` cameras (``scheduling.road_detector``), if set."""
        return self._road_detector

    def _detector_for(self, camera: CameraConfig) -> Detector:
        if camera.profile == "road" and self._road_detector is not None:
            return self._road_detector
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

    def _bound(self, detector: Detector, camera: CameraConfig) -> Detector:
        """``detector`` as ``camera`` calls it: through its lane's batches, if batching."""
        runner = self.road_batches if camera.profile == "road" else self.batches
        return detector if runner is None else BatchedDetector(detector, runner)

    def _pipeline(self, camera: CameraConfig, zones: CameraZones) -> CameraPipeline:
        sites = {z.site_id for z in zones.zones if z.site_id is not None}
        gating = self.config.scheduling.gating
        gated = gating.enabled and camera.profile == "stationary"
        gate = ChangeGate(gating, zones) if gated else None
        return CameraPipeline(
            config=self.config,
            camera=camera,
            zones=zones,
            detector=self._bound(self._detector_for(camera), camera),
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

    def swap_detector(self, detector: Detector, *, profile: Profile | None = None) -> None:
        """Detect with ``detector`` from each camera's next frame; release the old one.

        Each camera switches between two of its analysed frames (tracks and open cases are
        kept); once all have, the replaced detector is closed if it can be.

        Args:
            detector: The new model, loaded and warmed up.
            profile: ``None``: every camera's model (a road model of their own included);
                ``"road"``: only the `profile: road` cameras' (which then keep their own);
                ``"stationary"``: every camera's but those with a road model of their own.

        Raises:
            LabelMapError: The label map does not fit the new model's classes (no camera
                switched then).
        """
        with self._swap_lock:
            road = self._road_detector
            if profile == "road":
                chosen = [p for p in self.pipelines if p.camera.profile == "road"]
                replaced = [road]
            elif profile == "stationary" and road is not None:
                chosen = [p for p in self.pipelines if p.camera.profile != "road"]
                replaced = [self._detector]
            else:
                chosen = self.pipelines
                replaced = [self._detector, road]
            for pipeline in chosen:  # refuse before any camera switches
                pipeline.analyzer.lookup(detector.names)
            if profile == "road":
                self._road_detector = detector
            elif profile == "stationary" and road is not None:
                self._detector = detector
            else:
                self._detector, self._road_detector = detector, None
            for pipeline in chosen:
                pipeline.set_detector(self._bound(detector, pipeline.camera))
            logger.info(
                "detector swapped on %d camera(s) (%s): now %s %s (%s)",
                len(chosen),
                profile or "all",
                detector.model.name,
                detector.model.version,
                detector.model.sha256[:12],
            )
            in_use = {id(self._detector), id(self._road_detector)}
            for old in replaced:
                if old is not None and id(old) not in in_use and isinstance(old, Releasable):
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
        source = open_source(camera.id, _source_config(camera))
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
        for camera in running:  # all at once: each source ends within its read timeout
            camera.stop.set()
        for camera in running:
            camera.reader.stop()
        for camera in running:
            camera.thread.join(timeout=timeout_s)
        for runner in (self.batches, self.road_batches):
            if runner is not None:
                runner.stop()
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
