"""An edge with everything around its worker: server config, health, snapshots, event clips.

:class:`EdgeRuntime` builds the :class:`edge.worker.EdgeWorker` from the edge's YAML file, or
with ``control.enabled`` from the config last applied (kept on disk, so the edge starts
when the server is unreachable), then starts beside it on the worker's one MQTT client:

- the :class:`~edge.control.service.ControlService` (server config, applied live);
- the :class:`~edge.health.HealthReporter` (samples every few seconds);
- the :class:`~edge.snapshots.SnapshotService` (latest frames for the zone editor);
- the :class:`~edge.clips.service.ClipService` (event clips) when ``clips.enabled``.

Each started camera gets a :class:`~edge.health.PictureMonitor` as a frame observer of its
reader and, for RTSP cameras with clips on, a packet ring on its source.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from contracts import ZoneEvent, topics
from edge.clips.ring import PacketRing
from edge.config import EdgeConfig
from edge.control.service import ConfigSource, ControlService
from edge.control.store import ConfigStore
from edge.control.validate import CameraSpec, ConfigRefusedError, validate_config
from edge.health import CameraProbe, HealthReporter, PictureMonitor
from edge.snapshots import SnapshotService
from edge.sources import FileSource, FrameReader, RtspSource
from edge.types import Frame
from edge.worker import EdgeWorker
from zones.config import load_zone_file

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BootConfig:
    """The cameras an edge starts with and where they come from."""

    config: EdgeConfig
    cameras: dict[str, CameraSpec]
    version: int | None
    source: ConfigSource


def boot_config(config: EdgeConfig) -> BootConfig:
    """The YAML file's cameras, or with control the config last applied (if any is kept).

    A kept config that no longer passes (an older edge's file, a zone rule since tightened)
    is logged and the YAML's cameras run instead.

    Raises:
        zones.config.ZoneFileError: A zone file of the YAML's cameras cannot be used.
    """
    yaml_specs = {c.id: CameraSpec(c, load_zone_file(c.zones)) for c in config.cameras if c.enabled}
    yaml = BootConfig(config, yaml_specs, None, "yaml")
    if not config.control.enabled:
        return yaml
    store = ConfigStore(config.control.state_dir)
    payload = store.load_payload()
    if payload is None:
        logger.info(
            "edge %s: no server config kept in %s yet; running the %d camera(s) of the YAML file",
            config.edge_id,
            store.path,
            len(yaml_specs),
        )
        return yaml
    try:
        kept = validate_config(
            payload, edge_id=config.edge_id, control=config.control, zones_dir=store.zones_dir
        )
    except ConfigRefusedError as exc:
        logger.error(
            "edge %s: the config kept in %s cannot be used (%s); running the YAML file's cameras",
            config.edge_id,
            store.path,
            exc,
        )
        return yaml
    store.write_zone_files(kept.message)
    logger.info(
        "edge %s: starting with config version %d kept on disk (%d camera(s))",
        config.edge_id,
        kept.message.version,
        len(kept.cameras),
    )
    cameras = [spec.config for spec in kept.cameras.values()]
    return BootConfig(
        config.model_copy(update={"cameras": cameras}),
        kept.cameras,
        kept.message.version,
        "disk",
    )


class EdgeRuntime:
    """A worker and its control, health, snapshot and clip services."""

    def __init__(self, config: EdgeConfig) -> None:
        boot = boot_config(config)
        self.config = config
        self.worker = EdgeWorker(boot.config)
        self.stop_event = self.worker.stop_event
        self._lock = threading.Lock()
        self.monitors: dict[str, PictureMonitor] = {}
        self.rings: dict[str, PacketRing] = {}
        self.references: dict[str, str] = {}  # camera id -> its reference snapshot
        publisher = self.worker.publisher
        enabled = {c: s for c, s in boot.cameras.items() if s.config.enabled}
        disabled = {c: s for c, s in boot.cameras.items() if not s.config.enabled}
        self.snapshots = SnapshotService(
            edge_id=config.edge_id,
            config=config.snapshots,
            latest=self._latest,
            cameras=self._camera_ids,
            sink=publisher,
        )
        self.control: ControlService | None = None
        if config.control.enabled:
            self.control = ControlService(
                edge_id=config.edge_id,
                control=config.control,
                worker=self.worker,
                running=enabled,
                disabled=disabled,
                running_version=boot.version,
                source=boot.source,
                sink=publisher,
                on_started=self._camera_started,
                on_reference=self._set_reference,
                on_removed=self._camera_removed,
            )
        self.health: HealthReporter | None = None
        if config.health.enabled:
            self.health = HealthReporter(
                edge_id=config.edge_id, config=config.health, source=self, sink=publisher
            )
        self.clips = None
        if config.clips.enabled:
            from edge.clips.service import ClipService

            self.clips = ClipService(
                edge_id=config.edge_id,
                config=config.clips,
                rings=self.rings,
                chain=self.worker.chain,
            )
            self.worker.on_case_start = self._case_started
        self._boot_specs = enabled

    # ------------------------------------------------------------ per camera

    def _camera_ids(self) -> list[str]:
        with self._lock:
            return sorted(self.monitors)

    def _latest(self, camera_id: str) -> Frame | None:
        monitor = self.monitors.get(camera_id)
        return monitor.latest if monitor is not None else None

    def _reader(self, camera_id: str) -> FrameReader | None:
        for reader in self.worker.readers:
            if reader.source.camera_id == camera_id:
                return reader
        return None

    def _camera_started(self, spec: CameraSpec) -> None:
        """Give a started camera its monitor (and ring), and its reference snapshot."""
        camera_id = spec.config.id
        reader = self._reader(camera_id)
        if reader is None:
            logger.warning("camera %s: no reader to watch (not started?)", camera_id)
            return
        monitor = PictureMonitor(self.config.health)
        with self._lock:
            self.monitors[camera_id] = monitor
        reader.add_observer(monitor.observe)
        if self.clips is not None and isinstance(reader.source, RtspSource | FileSource):
            ring = PacketRing(self.config.clips.ring_s, self.config.clips.max_buffer_bytes)
            with self._lock:
                self.rings[camera_id] = ring
            reader.source.attach_ring(ring)
        self._set_reference(camera_id, spec.reference_sha256)

    def _camera_removed(self, camera_id: str) -> None:
        with self._lock:
            self.monitors.pop(camera_id, None)
            self.rings.pop(camera_id, None)
            self.references.pop(camera_id, None)
            self.snapshots.store.pin(set(self.references.values()))

    def _set_reference(self, camera_id: str, sha256: str | None) -> None:
        with self._lock:
            if sha256 is None:
                self.references.pop(camera_id, None)
            else:
                self.references[camera_id] = sha256
            self.snapshots.store.pin(set(self.references.values()))
        monitor = self.monitors.get(camera_id)
        if monitor is None:
            return
        image = self.snapshots.store.image(sha256) if sha256 is not None else None
        if sha256 is not None and image is None:
            logger.warning(
                "camera %s: reference snapshot %s is not kept on this edge; no view check",
                camera_id,
                sha256[:12],
            )
        monitor.set_reference(sha256 if image is not None else None, image)

    def _case_started(self, camera_id: str, event: ZoneEvent) -> None:
        if self.clips is not None:
            self.clips.request(camera_id, event)

    # ------------------------------------------------------------ health source

    def probes(self) -> Sequence[CameraProbe]:
        readers = {r.source.camera_id: r for r in self.worker.readers}
        probes: list[CameraProbe] = []
        for pipeline in self.worker.pipelines:
            reader = readers.get(pipeline.camera.id)
            if reader is None:
                continue
            with pipeline.times.lock:
                frames, detect_s = pipeline.times.frames, pipeline.times.detect_s
            probes.append(CameraProbe(pipeline.camera.id, reader.stats(), frames, detect_s))
        return probes

    def disabled(self) -> Sequence[str]:
        return sorted(self.control.disabled) if self.control is not None else []

    def monitor(self, camera_id: str) -> PictureMonitor | None:
        return self.monitors.get(camera_id)

    def config_version(self) -> int | None:
        return self.control.running_version if self.control is not None else None

    # ------------------------------------------------------------ running

    def start(self) -> None:
        """Start the worker, then everything around it; subscribe to the server's topics."""
        self.worker.start()
        for spec in self._boot_specs.values():
            self._camera_started(spec)
        publisher = self.worker.publisher
        edge_id = self.config.edge_id
        publisher.subscribe(topics.snapshot_request_topic(edge_id), self.snapshots.on_request)
        self.snapshots.start()
        if self.control is not None:
            self.control.start()
            self.control.report_start()
            publisher.subscribe(topics.config_topic(edge_id), self.control.on_message)
        if self.health is not None:
            self.health.start()
        if self.clips is not None:
            self.clips.start()

    def stop(self) -> None:
        for service in (self.control, self.health, self.snapshots, self.clips):
            if service is not None:
                service.stop()
        self.worker.stop()

    def run_forever(self, status_interval_s: float = 60.0) -> None:
        self.start()
        next_status = time.monotonic() + status_interval_s
        try:
            while not self.stop_event.wait(1.0):
                if time.monotonic() >= next_status:
                    self.worker.log_status()
                    next_status += status_interval_s
        finally:
            self.stop()
