"""Replay a video file through the edge's analysis, offline (for tests and benches).

The frames of the file are decoded with PyAV, thinned to ``analysis_fps``, optionally cut to
a region of interest (a band of a portrait phone video, say), and run through
:class:`edge.analysis.Analyzer`, the same detect -> label map -> track -> rules code the
worker runs. Time is the file's presentation time added to ``clock_start``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import numpy as np

from edge.analysis import Analyzer
from edge.detectors import Detector
from edge.detectors.labels import LabelMapConfig
from edge.rules.base import RuleResources
from edge.rules.engine import RuleEngine
from edge.rules.events import RuleEvent
from edge.rules.settings import RulesSettings
from edge.tracking import ByteTrackSettings
from edge.types import Detections, Frame, ImageArray
from zones.config import CameraZones

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReplayedFrame:
    """One analysed frame of a replay.

    Attributes:
        t_s: Seconds into the file.
        detections: Its label-mapped detections with tracker ids.
    """

    t_s: float
    detections: Detections


@dataclass(frozen=True, slots=True)
class ReplayedEvent:
    """One rule event of a replay.

    Attributes:
        t_s: Seconds into the file of the frame that raised it (the last frame for the
            events that closing the stream ended).
        event: The rule event.
    """

    t_s: float
    event: RuleEvent


@dataclass(slots=True)
class ReplayResult:
    """What a replay produced.

    Attributes:
        events: Every rule event (closing ones last).
        frames: Frames analysed.
        detections: Every analysed frame's tracked detections.
        engine: The rule engine (its rules keep their state, e.g. truck verdicts).
        seconds_detect: Time spent in the detector.
        seconds_rules: Time spent in tracker and rules.
    """

    events: list[ReplayedEvent] = field(default_factory=list)
    frames: int = 0
    detections: list[ReplayedFrame] = field(default_factory=list)
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
    """Run a video file through the analysis (detector, label map, tracker and rules).

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
    analyzer = Analyzer(
        zones=zones,
        detector=detector,
        label_map=label_map,
        tracker=tracker,
        settings=settings,
        resources=resources,
    )
    result = ReplayResult()
    next_t = 0.0
    last_t = 0.0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for decoded in container.decode(stream):
            t = float(decoded.time or 0.0)
            if t + 1e-6 < next_t:
                continue
            next_t = t + 1.0 / analysis_fps
            image: ImageArray = np.asarray(decoded.to_ndarray(format="bgr24"), dtype=np.uint8)
            if roi is not None:
                x1, y1, x2, y2 = roi
                image = np.ascontiguousarray(image[y1:y2, x1:x2])
            frame = Frame(zones.camera_id, result.frames, clock_start + timedelta(seconds=t), image)
            analysis = analyzer.analyse(frame)
            result.seconds_detect += analysis.detect_s
            result.seconds_rules += analysis.track_s + analysis.rules_s
            result.events.extend(ReplayedEvent(t, e) for e in analysis.events)
            result.detections.append(ReplayedFrame(t, analysis.detections))
            result.frames += 1
            last_t = t
    result.events.extend(ReplayedEvent(last_t, e) for e in analyzer.close())
    result.engine = analyzer.engine
    logger.info("replayed %s: %d frames, %d events", path, result.frames, len(result.events))
    return result
