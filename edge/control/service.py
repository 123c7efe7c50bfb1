"""Receive the server's config, apply it to the running worker, keep it, report the outcome.

The MQTT handler only hands the payload over (the newest one wins: each config is whole);
the service's thread validates it (:func:`edge.control.validate.validate_config`), works out
the changes (:func:`edge.control.plan.plan_changes`) and applies them through the worker's
hooks, each between two frames of its camera: ``apply_zones`` for new zones (the stream
goes on), ``remove_camera`` / ``add_camera`` for cameras gone, disabled, added or with a
new source. Only then is the config kept on disk and reported applied. A config that does
not pass is refused with every problem listed, and the edge goes on with what it runs.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal, Protocol

from contracts import topics
from contracts.control import (
    MAX_ERROR_CHARS,
    ApplyState,
    CameraConfigStatus,
    ConfigStatus,
    EdgeConfigMessage,
)
from edge.config import CameraConfig
from edge.control.config import ControlConfig
from edge.control.plan import ConfigPlan, plan_changes
from edge.control.store import ConfigStore
from edge.control.validate import CameraSpec, ConfigRefusedError, validate_config
from zones.config import CameraZones

logger = logging.getLogger(__name__)

ConfigSource = Literal["server", "disk", "yaml"]


class WorkerHooks(Protocol):
    """What the service changes on the running worker (:class:`edge.worker.EdgeWorker`)."""

    def apply_zones(self, camera_id: str, zones: CameraZones) -> None: ...

    def add_camera(self, camera: CameraConfig, zones: CameraZones) -> None: ...

    def remove_camera(self, camera_id: str) -> None: ...


class Sink(Protocol):
    def publish_now(
        self, topic: str, payload: bytes, *, qos: int = 0, retain: bool = False
    ) -> bool: ...


class ControlService:
    """Applies the server's configs to a worker.

    Args:
        edge_id: This edge.
        control: The ``control:`` block (profiles, state directory).
        worker: The running worker's hooks.
        running: The cameras that run now (enabled ones), by id.
        disabled: Cameras configured but switched off, by id.
        running_version: The config version they come from; ``None``: the YAML file.
        source: Where they come from.
        sink: Where status reports go (the edge's publisher).
        on_started: Called with each camera's spec after it was (re)started.
        on_reference: Called with ``(camera_id, sha256 or None)`` when a camera's reference
            snapshot changes.
        on_removed: Called with a camera's id after it was stopped.
    """

    def __init__(
        self,
        *,
        edge_id: str,
        control: ControlConfig,
        worker: WorkerHooks,
        running: dict[str, CameraSpec],
        disabled: dict[str, CameraSpec],
        running_version: int | None,
        source: ConfigSource,
        sink: Sink,
        on_started: Callable[[CameraSpec], None] = lambda _spec: None,
        on_reference: Callable[[str, str | None], None] = lambda _c, _s: None,
        on_removed: Callable[[str], None] = lambda _c: None,
    ) -> None:
        self.edge_id = edge_id
        self.control = control
        self.worker = worker
        self.store = ConfigStore(control.state_dir)
        self.running = dict(running)
        self.disabled = dict(disabled)
        self.running_version = running_version
        self.source: ConfigSource = source
        self.sink = sink
        self.on_started = on_started
        self.on_reference = on_reference
        self.on_removed = on_removed
        self.last_status: ConfigStatus | None = None
        self._lock = threading.Lock()  # one apply at a time
        self._pending: bytes | None = None
        self._wake = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"control-{edge_id}", daemon=True)

    # ---------------------------------------------------------------- MQTT side

    def on_message(self, _topic: str, payload: bytes) -> None:
        """The handler for :func:`contracts.topics.config_topic` (paho's thread: no work)."""
        if not payload:
            return  # the retained config was cleared: keep running what runs
        with self._wake:
            self._pending = payload
            self._wake.notify_all()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        if self._thread.is_alive():
            self._thread.join(10.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._wake:
                self._wake.wait_for(lambda: self._pending is not None or self._stop.is_set())
                payload, self._pending = self._pending, None
            if payload is None:
                continue
            try:
                self.apply(payload)
            except Exception:  # a bug must not end the control thread
                logger.exception("edge %s: applying a config failed", self.edge_id)

    # ---------------------------------------------------------------- applying

    def apply(self, payload: bytes, *, now: datetime | None = None) -> ConfigStatus:
        """Validate, apply, keep and report one config message; returns the status sent."""
        with self._lock:
            try:
                validated = validate_config(
                    payload,
                    edge_id=self.edge_id,
                    control=self.control,
                    zones_dir=self.store.zones_dir,
                )
            except ConfigRefusedError as exc:
                logger.error(
                    "edge %s: refused the server's config (keeping version %s): %s",
                    self.edge_id,
                    self.running_version,
                    exc,
                )
                return self._report(_received_version(payload), exc.problems, now)
            message = validated.message
            if self.running_version is not None and message.version < self.running_version:
                problem = (
                    f"version {message.version} is older than the running version "
                    f"{self.running_version}"
                )
                logger.warning("edge %s: refused config: %s", self.edge_id, problem)
                return self._report(message.version, [problem], now)
            plan = plan_changes(self.running, validated.cameras)
            failures = self._execute(plan, validated.cameras, message)
            if failures:
                return self._report(message.version, failures, now)
            self.store.save(message)
            self.running_version = message.version
            self.source = "server"
            if not plan.empty:
                logger.info(
                    "edge %s: config version %d applied (added %s, removed %s, restarted %s, "
                    "new zones %s)",
                    self.edge_id,
                    message.version,
                    plan.add or "-",
                    plan.remove or "-",
                    plan.restart or "-",
                    plan.rezone or "-",
                )
            return self._report(message.version, None, now)

    def _execute(
        self, plan: ConfigPlan, wanted: dict[str, CameraSpec], message: EdgeConfigMessage
    ) -> list[str]:
        """Apply ``plan``; returns what failed (each a line), keeping ``running`` true."""
        failures: list[str] = []
        self.store.write_zone_files(message)
        for camera_id in [*plan.remove, *plan.restart]:
            try:
                self.worker.remove_camera(camera_id)
            except KeyError:
                pass  # already gone
            except Exception as exc:
                failures.append(f"camera {camera_id}: could not be stopped: {exc}")
                continue
            self.running.pop(camera_id, None)
            self.on_removed(camera_id)
        for camera_id in [*plan.restart, *plan.add]:
            spec = wanted[camera_id]
            try:
                self.worker.add_camera(spec.config, spec.zones)
            except Exception as exc:
                failures.append(f"camera {camera_id}: could not be started: {exc}")
                continue
            self.running[camera_id] = spec
            self.on_started(spec)
        for camera_id in plan.rezone:
            spec = wanted[camera_id]
            try:
                self.worker.apply_zones(camera_id, spec.zones)
            except Exception as exc:
                version = spec.zone_version
                failures.append(f"camera {camera_id}: zones v{version} not applied: {exc}")
                continue
            self.running[camera_id] = spec
        for camera_id in plan.reference:
            self.running[camera_id] = wanted[camera_id]
            self.on_reference(camera_id, wanted[camera_id].reference_sha256)
        for camera_id in [c for c in wanted if c in self.running and c not in plan.rezone]:
            self.running[camera_id] = wanted[camera_id]  # e.g. a new zone file path
        self.disabled = {c: s for c, s in wanted.items() if not s.config.enabled}
        return failures

    # ---------------------------------------------------------------- reporting

    def status(
        self, received_version: int | None, problems: list[str] | None, now: datetime | None
    ) -> ConfigStatus:
        """The status as of now: what runs, and what became of ``received_version``."""
        cameras = [
            CameraConfigStatus(camera_id=c, zone_version=s.zone_version, enabled=True)
            for c, s in sorted(self.running.items())
        ] + [
            CameraConfigStatus(camera_id=c, zone_version=s.zone_version, enabled=False)
            for c, s in sorted(self.disabled.items())
        ]
        error = None
        if problems:
            error = "\n".join(problems)
            if len(error) > MAX_ERROR_CHARS:
                error = error[: MAX_ERROR_CHARS - 20] + "\n... (cut short)"
        return ConfigStatus(
            edge_id=self.edge_id,
            received_version=received_version,
            state=ApplyState.REFUSED if problems else ApplyState.APPLIED,
            error=error,
            running_version=self.running_version,
            source=self.source,
            cameras=cameras,
            reported_at=now or datetime.now(UTC),
        )

    def report_start(self) -> ConfigStatus:
        """Say what the edge runs at start (retained, so the server sees it at once)."""
        return self._report(None, None, None)

    def _report(
        self, received_version: int | None, problems: list[str] | None, now: datetime | None
    ) -> ConfigStatus:
        status = self.status(received_version, problems, now)
        self.last_status = status
        self.sink.publish_now(
            topics.status_topic(self.edge_id), status.to_json(), qos=1, retain=True
        )
        return status


def _received_version(payload: bytes) -> int | None:
    """The version a refused message claims, if it says one (for the status)."""
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    version = data.get("version") if isinstance(data, dict) else None
    return version if isinstance(version, int) and not isinstance(version, bool) else None
