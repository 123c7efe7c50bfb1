"""Playing a rule scenario through the edge's Analyzer, and matching the cases it raised."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import numpy as np
import pytest

from contracts import ModelRef
from contracts.events import EventPhase, ViolationType
from edge.detectors.labels import LabelMapConfig, LabelMapError
from edge.rules import RuleEvent
from edge.rules.settings import RulesSettings
from edge.types import Detections, ImageArray
from training.scenes.classes import CLASSES
from training.scenes.rule_scenarios import (
    SIZE,
    ExpectedCase,
    RuleScenario,
    ScenarioOutcome,
    build_scenario,
    match_cases,
    play,
    render_frames,
    score,
)


def test_matching_counts_late_and_extra_cases() -> None:
    scenario: RuleScenario = build_scenario("stall_illegal")

    def start(t: float, event_id: str) -> tuple[float, RuleEvent]:
        ts = scenario.clock_start + timedelta(seconds=t)
        return t, RuleEvent(
            event_id,
            EventPhase.START,
            "c",
            "pavement",
            "stall_dwell",
            ViolationType.STREET_STALL,
            "stall",
            0.9,
            np.zeros(4, dtype=np.float32),
            1,
            ts,
            ts,
            0.0,
        )

    (case,) = scenario.expected
    assert isinstance(case, ExpectedCase)
    on_time = start(case.start_after_s + 0.5, "a" * 32)
    late = start(case.start_before_s + 5.0, "b" * 32)
    outcome: ScenarioOutcome = match_cases(scenario, (on_time, late), 10)
    assert (outcome.true_positives, outcome.false_positives, outcome.missed) == (1, 1, 0)
    outcome = match_cases(scenario, (late,), 10)
    assert (outcome.true_positives, outcome.false_positives, outcome.missed) == (0, 1, 1)
    outcome = match_cases(scenario, (late,), 10, slack_s=5.0)  # late, but within the slack
    assert (outcome.true_positives, outcome.false_positives, outcome.missed) == (1, 0, 0)


def test_no_events_miss_every_case() -> None:
    scenario = build_scenario("site_and_dust")
    outcome = match_cases(scenario, (), 0)
    assert (outcome.true_positives, outcome.false_positives, outcome.missed) == (0, 0, 1)
    assert outcome.starts() == []


def test_score_per_rule() -> None:
    stall, lawful = build_scenario("stall_illegal"), build_scenario("stall_legal_hours")
    scores = score([match_cases(stall, (), 5), match_cases(lawful, (), 5)])
    (only,) = scores.values()
    assert (only.rule, only.scenarios, only.expected, only.missed) == ("stall_dwell", 2, 1, 1)
    assert (only.precision, only.recall) == (1.0, 0.0)  # nothing raised: nothing wrong
    assert score([]) == {}


_SHOP_CLASSES = ("pedestrian", "automobile", "lorry", "parasol", "wares", "soil", "net", "bird")
"""A detector's own class names, in the order of the truth's classes, plus one no object is."""


class _TruthDetector:
    """Finds the truth boxes of pre-rendered frames, under its own class names."""

    def __init__(self, scenario: RuleScenario) -> None:
        self._truth = {
            f.image.tobytes(): f.truth(0.8) for f in render_frames(scenario) if f.image is not None
        }
        self.calls = 0

    @property
    def names(self) -> tuple[str, ...]:
        return _SHOP_CLASSES

    @property
    def model(self) -> ModelRef:
        return ModelRef(name="truth", version="1", sha256="0" * 64)

    @property
    def input_size(self) -> tuple[int, int]:
        return SIZE

    @property
    def providers(self) -> tuple[str, ...]:
        return ("CPUExecutionProvider",)

    def detect(self, image: ImageArray) -> Detections:
        self.calls += 1
        truth = self._truth[image.tobytes()]
        return Detections(truth.xyxy, truth.confidence, truth.class_id, names=_SHOP_CLASSES)


def test_play_runs_the_detector_and_its_label_map() -> None:
    scenario = build_scenario("stall_illegal")
    detector = _TruthDetector(scenario)
    label_map = LabelMapConfig(
        mapping=dict(zip(_SHOP_CLASSES[:-1], CLASSES, strict=True)),
        min_confidence={"person": 0.5},
    )
    outcome = play(scenario, detector=detector, label_map=label_map)
    assert detector.calls == outcome.frames == 81
    assert (outcome.true_positives, outcome.false_positives, outcome.missed) == (1, 0, 0)
    # without its label map, the detector's classes are no objects: nothing is found
    with pytest.raises(LabelMapError, match="none of the model's classes"):
        play(scenario, detector=detector)


def test_play_drops_what_the_label_map_does_not_map() -> None:
    scenario = build_scenario("stall_illegal")
    label_map = LabelMapConfig(mapping={"pedestrian": "person"})  # stalls are not mapped
    outcome = play(scenario, detector=_TruthDetector(scenario), label_map=label_map)
    assert (outcome.true_positives, outcome.false_positives, outcome.missed) == (0, 0, 1)


def test_play_refuses_rules_that_cannot_start() -> None:
    scenario = build_scenario("truck_covered")
    missing = RulesSettings.model_validate({"muck_truck": {"cover_model": "/no/such/cover.onnx"}})
    with pytest.raises(RuntimeError, match="cover"):
        play(dataclasses.replace(scenario, settings=missing))
