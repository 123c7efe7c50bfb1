"""Replay a video file through detector, tracker and rules, offline (for tests and benches).

The frames of the file are decoded with PyAV, thinned to ``analysis_fps``, optionally cut to
a region of interest (a band of a portrait phone video, say), and run through the same
stages as the worker: detector, label map, tracker, rule engine with pixels and the
tracker's snapshot. Time is the file's presentation time added to ``clock_start``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import numpy as np

from edge.detectors import Detector
from edge.detectors.labels import LabelMapConfig, resolve_label_map
from edge.rules.base import RuleResources
from edge.rules.engine import RuleEngine
from edge.rules.events import RuleEvent
from edge.rules.settings import RulesSettings
from edge.tracking import ByteTracker, ByteTrackSettings
from edge.types import Detections, ImageArray
from zones.config import CameraZones

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class ReplayResult:
    """What a replay produced.

    Attributes:
        events: ``(seconds into the file, event)`` for every rule event (closing ones last).
        frames: Frames analysed.
        detections: Per analysed frame, ``(seconds, label-mapped detections)``.
        engine: The rule engine (its rules keep their state, e.g. truck verdicts).
        seconds_detect: Time spent in the detector.
        seconds_rules: Time spent in tracker and rules.
    """

    events: list[tuple[float, RuleEvent]] = field(default_factory=list)
    frames: int = 0
    detections: list[tuple[float, Detections]] = field(default_factory=list)
    engine: RuleEngine | None = None
    seconds_detect: float = 0.0
    seconds_rules: float = 0.0


def replay_video(
    path: Path,
    *,
    detector: Detector,
    label_map: LabelMapConfig,
    zones: CameraZones,
    settings: RulesSettings | None = None,
    resources: RuleResources | None = None,
    analysis_fps: float = 5.0,
    roi: tuple[int, int, int, int] | None = None,
    tracker: ByteTrackSettings | None = None,
    clock_start: datetime = datetime(2026, 6, 2, 4, 0, tzinfo=UTC),
) -> ReplayResult:
    """Run a video file through detector, tracker and rules.

    Args:
        path: The video file.
        detector: A loaded detector.
        label_map: Model classes -> object names.
        zones: The zones of the (virtual) camera, in 0..1 of the ROI.
        settings: Rule settings; defaults when omitted.
        resources: Shared models for the rules (the cover classifier).
        analysis_fps: Frames analysed per second of video.
        roi: ``(x1, y1, x2, y2)`` pixels of each frame to analyse; the whole frame if
            omitted.
        tracker: ByteTrack settings.
        clock_start: Wall-clock time of the file's first frame.

    Returns:
        The events, the detections and timings.
    """
    labels = resolve_label_map(label_map, detector.names)
    track = ByteTracker(tracker)
    result = ReplayResult()
    engine: RuleEngine | None = None
    next_t = 0.0
    last_ts = clock_start
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            t = float(frame.time or 0.0)
            if t + 1e-6 < next_t:
                continue
            next_t = t + 1.0 / analysis_fps
            image: ImageArray = np.asarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8)
            if roi is not None:
                x1, y1, x2, y2 = roi
                image = np.ascontiguousarray(image[y1:y2, x1:x2])
            if engine is None:
                wh = (int(image.shape[1]), int(image.shape[0]))
                engine = RuleEngine(zones, wh, settings, resources=resources)
                result.engine = engine
            ts = clock_start + timedelta(seconds=t)
            t0 = time.perf_counter()
            detections = labels.apply(detector.detect(image))
            t1 = time.perf_counter()
            tracked = track.update(detections, ts)
            events = engine.update(tracked, ts, image=image, tracks=track.snapshot())
            result.seconds_rules += time.perf_counter() - t1
            result.seconds_detect += t1 - t0
            result.events.extend((t, e) for e in events)
            result.detections.append((t, tracked))
            result.frames += 1
            last_ts = ts
    if engine is not None:
        end = (last_ts - clock_start).total_seconds()
        result.events.extend((end, e) for e in engine.close(last_ts))
    logger.info("replayed %s: %d frames, %d events", path, result.frames, len(result.events))
    return result
