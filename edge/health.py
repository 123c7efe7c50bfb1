"""Per-camera health, sampled every few seconds and published as :class:`EdgeHealth`.

Counters come from the camera's reader (packets received, frames dropped, decode errors,
reconnects, last packet) and its analyzer (frames analysed, detector time). Two picture
signals come from the frames handed over for analysis (a :class:`PictureMonitor` is a
frame observer of the reader):

- **frozen**: the picture has not changed for ``frozen_after_s``: each frame is reduced to
  a 64x36 grey thumbnail (its "hash"); two frames are the same picture when the mean
  absolute difference of their thumbnails is at most ``freeze_tolerance`` grey levels. A
  live camera's sensor noise alone keeps consecutive frames apart; a hung encoder that
  repeats its last frame, or a still image, does not.
- **view similarity** to the reference snapshot the zones were drawn on (0..1): every
  ``view_check_interval_s``, the mean of two correlations with the reference: of the grey
  layout at 32x18 (where light and dark are) and of blurred edge maps at 80x45 (where the
  structure is). Correlations ignore brightness and contrast (dusk, auto exposure); a
  camera turned away from its scene (a PTZ dome left elsewhere) scores low on both.

The picture functions are pure and take time as an argument; :class:`HealthReporter` is the
thread that samples a running worker and publishes.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Protocol

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from contracts import topics
from contracts.health import CameraHealth, CameraState, EdgeHealth
from edge.sources import SourceState
from edge.sources.reader import ReaderStats
from edge.types import Frame, ImageArray

logger = logging.getLogger(__name__)

THUMBNAIL_WH = (64, 36)
EDGE_MAP_WH = (80, 45)
LAYOUT_WH = (32, 18)

GreyArray = npt.NDArray[np.uint8]
FloatArray = npt.NDArray[np.float32]


class HealthConfig(BaseModel):
    """The edge's ``health:`` block."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    enabled: bool = True
    """Publish health samples (needs MQTT)."""
    interval_s: Annotated[float, Field(ge=1.0, le=600.0)] = 5.0
    """Seconds between samples."""
    frozen_after_s: Annotated[float, Field(ge=1.0, le=3600.0)] = 30.0
    """A picture unchanged this long is reported frozen."""
    freeze_tolerance: Annotated[float, Field(ge=0.0, le=10.0)] = 0.25
    """Largest mean absolute thumbnail difference (grey levels) of 'the same picture'."""
    view_check_interval_s: Annotated[float, Field(ge=1.0, le=3600.0)] = 30.0
    """Seconds between comparisons of the view with the reference snapshot."""
    latency_samples: Annotated[int, Field(ge=1, le=1000)] = 12
    """Sample intervals the detector-latency median is taken over."""


# ------------------------------------------------------------------ picture functions


def thumbnail(image: ImageArray) -> GreyArray:
    """A 64x36 grey thumbnail of a BGR frame (area average): the frame's 'hash'."""
    small = cv2.resize(image, THUMBNAIL_WH, interpolation=cv2.INTER_AREA)
    return np.asarray(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), dtype=np.uint8)


def picture_difference(a: GreyArray, b: GreyArray) -> float:
    """Mean absolute difference of two thumbnails, in grey levels (0 = identical)."""
    if a.shape != b.shape:
        return float("inf")
    return float(np.mean(np.abs(a.astype(np.int16) - b.astype(np.int16))))


@dataclass(slots=True)
class FrozenTracker:
    """Since when the picture has not changed.

    Example:
        >>> t = FrozenTracker(tolerance=0.25)
        >>> same = np.zeros((36, 64), np.uint8)
        >>> t.update(same, 10.0), t.update(same, 40.0)
        (0.0, 30.0)
    """

    tolerance: float
    last: GreyArray | None = None
    unchanged_since: float | None = None

    def update(self, picture: GreyArray, now_s: float) -> float:
        """Take the newest thumbnail; returns how long the picture has been unchanged."""
        if (
            self.last is None
            or self.unchanged_since is None
            or picture_difference(picture, self.last) > self.tolerance
        ):
            self.unchanged_since = now_s
        self.last = picture
        return now_s - self.unchanged_since

    def unchanged_for(self, now_s: float) -> float:
        """Seconds the latest picture has been unchanged, as of ``now_s`` (0 before any)."""
        return 0.0 if self.unchanged_since is None else max(0.0, now_s - self.unchanged_since)


@dataclass(frozen=True, slots=True)
class ViewSignature:
    """What a view is compared by: its grey layout and its blurred edge map."""

    layout: FloatArray
    edges: FloatArray


def view_signature(image: ImageArray) -> ViewSignature:
    """The signature of a BGR frame (or decoded snapshot)."""
    grey = cv2.cvtColor(
        cv2.resize(image, (EDGE_MAP_WH[0] * 2, EDGE_MAP_WH[1] * 2), interpolation=cv2.INTER_AREA),
        cv2.COLOR_BGR2GRAY,
    )
    layout = cv2.resize(grey, LAYOUT_WH, interpolation=cv2.INTER_AREA)
    small = cv2.resize(grey, EDGE_MAP_WH, interpolation=cv2.INTER_AREA).astype(np.float32)
    gx = cv2.Sobel(small, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(small, cv2.CV_32F, 0, 1, ksize=3)
    edges = cv2.GaussianBlur(cv2.magnitude(gx, gy), (5, 5), 0)
    return ViewSignature(
        layout=np.asarray(layout, dtype=np.float32),
        edges=np.asarray(edges, dtype=np.float32),
    )


def _correlation(a: FloatArray, b: FloatArray) -> float:
    a = a.ravel() - a.mean()
    b = b.ravel() - b.mean()
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    if norm == 0.0:
        return 1.0 if not a.any() and not b.any() else 0.0
    return float(np.dot(a, b) / norm)


def view_similarity(current: ViewSignature, reference: ViewSignature) -> float:
    """How much ``current`` looks like ``reference``: 0 (another scene) .. 1 (the same).

    The mean of the layout correlation and the edge-map correlation, each clipped to 0..1
    (a negative correlation says as little as none).
    """
    layout = max(0.0, _correlation(current.layout, reference.layout))
    edges = max(0.0, _correlation(current.edges, reference.edges))
    return min(1.0, (layout + edges) / 2.0)


# ------------------------------------------------------------------ per camera state


class PictureMonitor:
    """A camera's picture signals, fed with the frames handed over for analysis.

    Thread-safe: :meth:`observe` runs on the camera's thread, :meth:`state` on the
    reporter's. The reference is set (or cleared) by the control side.

    Args:
        config: Thresholds and intervals.
        clock: Seconds, for the view-check interval (the frames' own time decides frozen).
    """

    def __init__(self, config: HealthConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._frozen = FrozenTracker(config.freeze_tolerance)
        self._reference: ViewSignature | None = None
        self._reference_sha256: str | None = None
        self._similarity: float | None = None
        self._last_check: float | None = None
        self._latest: Frame | None = None

    def set_reference(self, sha256: str | None, image: ImageArray | None) -> None:
        """Compare the view with ``image`` (the snapshot ``sha256``) from now on."""
        signature = view_signature(image) if image is not None else None
        with self._lock:
            self._reference = signature
            self._reference_sha256 = sha256 if signature is not None else None
            self._similarity = None
            self._last_check = None

    def observe(self, frame: Frame) -> None:
        """Take one frame (a reader observer)."""
        picture = thumbnail(frame.image)
        now = self._clock()
        with self._lock:
            self._frozen.update(picture, frame.ts.timestamp())
            self._latest = frame
            reference = self._reference
            due = reference is not None and (
                self._last_check is None
                or now - self._last_check >= self.config.view_check_interval_s
            )
            if due:
                self._last_check = now
        if due and reference is not None:
            similarity = view_similarity(view_signature(frame.image), reference)
            with self._lock:
                if self._reference is reference:
                    self._similarity = similarity

    @property
    def latest(self) -> Frame | None:
        """The newest frame seen (for snapshots)."""
        with self._lock:
            return self._latest

    def state(self, now_s: float) -> PictureState:
        """The signals as of ``now_s`` (seconds since the epoch)."""
        with self._lock:
            unchanged = self._frozen.unchanged_for(now_s)
            return PictureState(
                frozen=unchanged >= self.config.frozen_after_s,
                frozen_for_s=unchanged,
                view_similarity=self._similarity,
                reference_sha256=self._reference_sha256 if self._similarity is not None else None,
            )


@dataclass(frozen=True, slots=True)
class PictureState:
    frozen: bool
    frozen_for_s: float
    view_similarity: float | None
    reference_sha256: str | None


class LatencyWindow:
    """Median detector time per frame over the last sample intervals.

    Each sample adds the interval's mean (detector seconds over frames analysed since the
    previous sample, from the analyzer's running totals); the reported value is the median
    of those means over the last ``samples`` intervals that analysed a frame.
    """

    def __init__(self, samples: int) -> None:
        self._means: deque[float] = deque(maxlen=samples)
        self._last: tuple[int, float] | None = None

    def add(self, frames: int, detect_s: float) -> float | None:
        """Take the analyzer's totals; returns the median in milliseconds (``None``: none)."""
        if self._last is not None:
            df, ds = frames - self._last[0], detect_s - self._last[1]
            if df > 0:
                self._means.append(1000.0 * ds / df)
        elif frames > 0:
            self._means.append(1000.0 * detect_s / frames)
        self._last = (frames, detect_s)
        return statistics.median(self._means) if self._means else None


def camera_state(source_state: SourceState) -> CameraState:
    """The wire state of a reader's source state."""
    if source_state is SourceState.STREAMING:
        return CameraState.RUNNING
    if source_state in (SourceState.IDLE, SourceState.CONNECTING):
        return CameraState.CONNECTING
    return CameraState.DOWN


def camera_health(
    *,
    camera_id: str,
    reader: ReaderStats,
    frames_analysed: int,
    latency_ms: float | None,
    picture: PictureState,
    now: datetime,
) -> CameraHealth:
    """One camera's sample from its reader's and analyzer's numbers (pure)."""
    source = reader.source
    seen = [t for t in (source.last_packet_at, source.last_frame_at) if t is not None]
    age = max(0.0, (now - max(seen)).total_seconds()) if seen else None
    return CameraHealth(
        camera_id=camera_id,
        state=camera_state(source.state),
        frames_received=max(source.packets_received, source.frames_decoded),
        frames_analysed=frames_analysed,
        frames_dropped=reader.frames_dropped,
        decode_errors=source.decode_errors,
        reconnects=source.reconnects,
        last_frame_age_s=age,
        detector_latency_p50_ms=latency_ms,
        frozen=picture.frozen,
        frozen_for_s=picture.frozen_for_s,
        view_similarity=picture.view_similarity,
        reference_sha256=picture.reference_sha256,
    )


def disabled_camera(camera_id: str) -> CameraHealth:
    """The sample of a camera that is configured but switched off."""
    return CameraHealth(
        camera_id=camera_id,
        state=CameraState.DISABLED,
        frames_received=0,
        frames_analysed=0,
        frames_dropped=0,
        decode_errors=0,
        reconnects=0,
        last_frame_age_s=None,
        detector_latency_p50_ms=None,
        frozen=False,
        frozen_for_s=0.0,
        view_similarity=None,
        reference_sha256=None,
    )


# ------------------------------------------------------------------ the reporter


@dataclass(frozen=True, slots=True)
class CameraProbe:
    """What the reporter reads of one running camera."""

    camera_id: str
    reader: ReaderStats
    frames_analysed: int
    detect_s: float


class HealthSource(Protocol):
    """What the reporter samples: the running cameras, the switched-off ones, the config."""

    def probes(self) -> Sequence[CameraProbe]: ...

    def disabled(self) -> Sequence[str]: ...

    def monitor(self, camera_id: str) -> PictureMonitor | None: ...

    def config_version(self) -> int | None: ...


class Sink(Protocol):
    def publish_now(
        self, topic: str, payload: bytes, *, qos: int = 0, retain: bool = False
    ) -> bool: ...


class HealthReporter:
    """Samples a :class:`HealthSource` every ``interval_s`` and publishes the sample."""

    def __init__(
        self, *, edge_id: str, config: HealthConfig, source: HealthSource, sink: Sink
    ) -> None:
        self.edge_id = edge_id
        self.config = config
        self.source = source
        self.sink = sink
        self.started = time.monotonic()
        self._latency: dict[str, LatencyWindow] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"health-{edge_id}", daemon=True)
        self.sent = 0

    def sample(self, now: datetime) -> EdgeHealth:
        """One sample of every camera."""
        cameras: list[CameraHealth] = []
        for probe in self.source.probes():
            window = self._latency.setdefault(
                probe.camera_id, LatencyWindow(self.config.latency_samples)
            )
            monitor = self.source.monitor(probe.camera_id)
            picture = (
                monitor.state(now.timestamp())
                if monitor is not None
                else PictureState(False, 0.0, None, None)
            )
            cameras.append(
                camera_health(
                    camera_id=probe.camera_id,
                    reader=probe.reader,
                    frames_analysed=probe.frames_analysed,
                    latency_ms=window.add(probe.frames_analysed, probe.detect_s),
                    picture=picture,
                    now=now,
                )
            )
        cameras.extend(disabled_camera(c) for c in self.source.disabled())
        return EdgeHealth(
            edge_id=self.edge_id,
            sampled_at=now,
            uptime_s=time.monotonic() - self.started,
            config_version=self.source.config_version(),
            cameras=cameras,
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5.0)

    def _run(self) -> None:
        while not self._stop.wait(self.config.interval_s):
            try:
                sample = self.sample(datetime.now(UTC))
            except Exception:  # a bug here must not stop the edge; say it every time
                logger.exception("edge %s: health sample failed", self.edge_id)
                continue
            if self.sink.publish_now(topics.health_topic(self.edge_id), sample.to_json()):
                self.sent += 1
