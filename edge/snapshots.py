"""A camera's latest frame as a JPEG, on the server's request and every few minutes.

The operator draws zones on it (the server's zone editor). The JPEG is scaled to at most
``max_width`` pixels wide and compressed at ``jpeg_quality`` (1280 px at q=80: about
100-300 kB for a street scene), so it travels over MQTT as one
:class:`contracts.control.SnapshotMessage` on :func:`contracts.topics.snapshot_topic`.
Every snapshot sent is kept on disk by its sha256 (the newest ``keep``): when the server
names one as the reference its zones were drawn on, the edge compares its view with it
(:class:`edge.health.PictureMonitor`).

A camera with no frame yet sends nothing: the log says so and the server's editor reports
the snapshot that never came.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Protocol

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contracts import topics
from contracts.control import (
    MAX_SNAPSHOT_JPEG_BYTES,
    ControlMessageError,
    SnapshotMessage,
    SnapshotRequest,
)
from edge.types import Frame, ImageArray

logger = logging.getLogger(__name__)


class SnapshotConfig(BaseModel):
    """The edge's ``snapshots:`` block."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    interval_s: Annotated[float, Field(ge=0.0, le=86400.0)] = 300.0
    """Seconds between unrequested snapshots of every camera; 0: only on request."""
    max_width: Annotated[int, Field(ge=160, le=4096)] = 1280
    """Wider frames are scaled down to this width."""
    jpeg_quality: Annotated[int, Field(ge=30, le=95)] = 80
    """JPEG quality."""
    keep: Annotated[int, Field(ge=1, le=100_000)] = 500
    """Snapshots kept on disk (candidate references for the view check); the oldest go first,
    never one that a running camera's zones name as their reference."""
    directory: Path = Path("var/edge/snapshots")
    """Where they are kept."""


@dataclass(frozen=True, slots=True)
class EncodedSnapshot:
    """A frame as a JPEG."""

    jpeg: bytes
    sha256: str
    width: int
    height: int


def encode_snapshot(image: ImageArray, *, max_width: int, quality: int) -> EncodedSnapshot:
    """Scale ``image`` to at most ``max_width`` wide and encode it as JPEG.

    Raises:
        ValueError: The JPEG would exceed :data:`MAX_SNAPSHOT_JPEG_BYTES` or cannot be made.
    """
    height, width = image.shape[:2]
    if width > max_width:
        height = max(1, round(height * max_width / width))
        width = max_width
        image = np.asarray(
            cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA), dtype=np.uint8
        )
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("the frame could not be encoded as JPEG")
    jpeg = buffer.tobytes()
    if len(jpeg) > MAX_SNAPSHOT_JPEG_BYTES:
        raise ValueError(f"snapshot of {len(jpeg)} bytes exceeds {MAX_SNAPSHOT_JPEG_BYTES}")
    return EncodedSnapshot(jpeg, hashlib.sha256(jpeg).hexdigest(), width, height)


class SnapshotStore:
    """Snapshots sent, on disk by sha256, the newest ``keep`` of them and every pinned one."""

    def __init__(self, directory: Path, keep: int) -> None:
        self.directory = directory
        self.keep = keep
        self.pinned: frozenset[str] = frozenset()
        directory.mkdir(parents=True, exist_ok=True)

    def pin(self, references: set[str]) -> None:
        """Never prune ``references`` (the running cameras' reference snapshots)."""
        self.pinned = frozenset(references)

    def path(self, sha256: str) -> Path:
        return self.directory / f"{sha256}.jpg"

    def put(self, snapshot: EncodedSnapshot) -> None:
        target = self.path(snapshot.sha256)
        if not target.exists():
            partial = target.with_suffix(".part")
            partial.write_bytes(snapshot.jpeg)
            partial.replace(target)
        else:
            target.touch()
        kept = sorted(
            (p for p in self.directory.glob("*.jpg") if p.stem not in self.pinned),
            key=lambda p: p.stat().st_mtime,
        )
        for old in kept[: max(0, len(kept) - self.keep)]:
            old.unlink(missing_ok=True)

    def image(self, sha256: str) -> ImageArray | None:
        """The snapshot ``sha256`` decoded (BGR), or ``None`` when it is not kept here."""
        path = self.path(sha256)
        if not path.is_file():
            return None
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != sha256:
            logger.error("snapshot %s on disk does not match its hash; ignored", path)
            return None
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        return None if image is None else np.asarray(image, dtype=np.uint8)


class Sink(Protocol):
    def publish_now(
        self, topic: str, payload: bytes, *, qos: int = 0, retain: bool = False
    ) -> bool: ...


class SnapshotService:
    """Answers snapshot requests and sends periodic snapshots (its own thread).

    Args:
        edge_id: This edge.
        config: Size, quality, interval, store.
        latest: Camera id -> its newest frame (``None`` before the first).
        cameras: The running camera ids (at the time of asking).
        sink: Where messages go (the edge's publisher).
    """

    def __init__(
        self,
        *,
        edge_id: str,
        config: SnapshotConfig,
        latest: Callable[[str], Frame | None],
        cameras: Callable[[], list[str]],
        sink: Sink,
    ) -> None:
        self.edge_id = edge_id
        self.config = config
        self.store = SnapshotStore(config.directory, config.keep)
        self._latest = latest
        self._cameras = cameras
        self.sink = sink
        self._requests: queue.SimpleQueue[SnapshotRequest] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"snapshots-{edge_id}", daemon=True)
        self.sent = 0

    def on_request(self, _topic: str, payload: bytes) -> None:
        """An MQTT handler for :func:`contracts.topics.snapshot_request_topic`."""
        try:
            request = SnapshotRequest.from_json(payload)
        except (ControlMessageError, ValidationError) as exc:
            logger.warning("edge %s: ignored a snapshot request: %s", self.edge_id, exc)
            return
        if request.edge_id != self.edge_id:
            logger.warning(
                "edge %s: ignored a snapshot request for edge %s", self.edge_id, request.edge_id
            )
            return
        self._requests.put(request)

    def send(self, camera_id: str, request_id: str | None) -> SnapshotMessage | None:
        """Encode and publish the camera's newest frame; ``None`` when it has none."""
        frame = self._latest(camera_id)
        if frame is None:
            logger.warning(
                "edge %s: camera %s has no frame yet; no snapshot sent%s",
                self.edge_id,
                camera_id,
                f" (request {request_id})" if request_id else "",
            )
            return None
        encoded = encode_snapshot(
            frame.image, max_width=self.config.max_width, quality=self.config.jpeg_quality
        )
        self.store.put(encoded)
        message = SnapshotMessage(
            edge_id=self.edge_id,
            camera_id=camera_id,
            request_id=request_id,
            captured_at=frame.ts,
            width=encoded.width,
            height=encoded.height,
            sha256=encoded.sha256,
            jpeg_base64=base64.b64encode(encoded.jpeg).decode("ascii"),
        )
        if self.sink.publish_now(
            topics.snapshot_topic(self.edge_id, camera_id), message.to_json(), qos=1
        ):
            self.sent += 1
            logger.info(
                "edge %s: snapshot of camera %s sent (%dx%d, %d bytes, %s)",
                self.edge_id,
                camera_id,
                encoded.width,
                encoded.height,
                len(encoded.jpeg),
                encoded.sha256[:12],
            )
        return message

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5.0)

    def _handle(self, request: SnapshotRequest) -> None:
        cameras = self._cameras()
        wanted = [request.camera_id] if request.camera_id is not None else cameras
        for camera_id in wanted:
            if camera_id not in cameras:
                logger.warning(
                    "edge %s: snapshot request %s names camera %s, which does not run here",
                    self.edge_id,
                    request.request_id,
                    camera_id,
                )
                continue
            self.send(camera_id, request.request_id)

    def _run(self) -> None:
        interval = self.config.interval_s
        next_periodic = time.monotonic() + min(interval, 30.0) if interval > 0 else None
        while not self._stop.is_set():
            try:
                request = self._requests.get(timeout=0.2)
            except queue.Empty:
                request = None
            try:
                if request is not None:
                    self._handle(request)
                if next_periodic is not None and time.monotonic() >= next_periodic:
                    next_periodic = time.monotonic() + interval
                    for camera_id in self._cameras():
                        self.send(camera_id, None)
            except (ValueError, OSError) as exc:
                logger.error("edge %s: snapshot failed: %s", self.edge_id, exc)
