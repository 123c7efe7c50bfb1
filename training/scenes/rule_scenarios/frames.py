"""A rule scenario's frames: pixels, truth boxes, wall-clock time and the sensor readings due."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from edge.sensors.samples import SensorSample
from edge.types import Detections, Frame, ImageArray
from training.scenes.classes import CLASSES
from training.scenes.render import LabeledBox
from training.scenes.rule_scenarios.scenario import RuleScenario
from training.scenes.staging import Film


@dataclass(frozen=True, slots=True)
class ScenarioFrame:
    """One analysed frame of a scenario.

    Attributes:
        index: Frame number from 0.
        t_s: Scenario time, seconds.
        ts: Wall-clock time (UTC).
        image: BGR pixels, or ``None`` when rendered without them.
        boxes: Visible labelled objects (ground truth).
        readings: Sensor samples that arrived since the previous frame.
    """

    index: int
    t_s: float
    ts: datetime
    image: ImageArray | None
    boxes: tuple[LabeledBox, ...]
    readings: tuple[SensorSample, ...]

    def truth(self, confidence: float = 0.9) -> Detections:
        """The truth boxes as detections (object names = :data:`CLASSES`)."""
        if not self.boxes:
            return Detections.empty(CLASSES)
        return Detections(
            xyxy=np.array([b.xyxy for b in self.boxes], dtype=np.float32),
            confidence=np.full(len(self.boxes), confidence, dtype=np.float32),
            class_id=np.array([b.class_id for b in self.boxes], dtype=np.int64),
            names=CLASSES,
        )

    def frame(self, camera_id: str) -> Frame:
        """The frame as the edge receives it from ``camera_id``.

        Raises:
            ValueError: It was rendered without pixels.
        """
        if self.image is None:
            raise ValueError(f"frame {self.index} was rendered without pixels")
        return Frame(camera_id, self.index, self.ts, self.image)


def render_frames(scenario: RuleScenario, *, images: bool = True) -> Iterator[ScenarioFrame]:
    """Draw the scenario's analysed frames with their truth boxes and sensor readings.

    Args:
        scenario: The scenario.
        images: Keep the pixels (``False`` still draws the scene, for the visible boxes,
            but does not light it).

    Yields:
        One frame per ``1 / fps`` seconds, from time 0 to the end.
    """
    stage = scenario.stage
    film = Film(stage, np.random.default_rng(np.random.SeedSequence([scenario.seed, 99])), 3)
    pending = sorted(scenario.readings, key=lambda r: r[0])
    n = math.floor(scenario.seconds * scenario.fps) + 1
    for i in range(n):
        t = i / scenario.fps
        canvas = film.scene(t)
        due = [s for ts, s in pending if ts <= t + 1e-9]
        pending = [(ts, s) for ts, s in pending if ts > t + 1e-9]
        yield ScenarioFrame(
            index=i,
            t_s=t,
            ts=scenario.clock_start + timedelta(seconds=t),
            image=film.photo(canvas, i, stage.caption) if images else None,
            boxes=tuple(canvas.labels()),
            readings=tuple(due),
        )
