"""Every rule on scripted scenarios from ground-truth boxes: precision and recall of 1.0.

Each scenario of :mod:`training.scenes.rule_scenarios` is rendered, its truth boxes go
through ByteTrack and the camera's rule engine (with the committed cover classifier on the
rendered pixels for trucks), and the cases raised are matched against the cases it must
raise: none for the lawful ones.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.events import EvidenceKind
from edge.rules import ImageAttachment, JsonAttachment
from edge.rules.cover import OnnxCoverClassifier
from training.scenes.rule_scenarios import (
    RULE_SCENARIOS,
    ScenarioOutcome,
    build_scenario,
    play,
    score,
)

REPO = Path(__file__).resolve().parents[2]
COVER_MODEL = REPO / "models" / "cover-v1.onnx"


@pytest.fixture(scope="module")
def outcomes() -> dict[str, ScenarioOutcome]:
    cover = OnnxCoverClassifier(COVER_MODEL)
    return {name: play(build_scenario(name), cover=cover) for name in RULE_SCENARIOS}


@pytest.mark.parametrize("name", RULE_SCENARIOS)
def test_scenario_raises_exactly_its_cases(outcomes: dict[str, ScenarioOutcome], name: str) -> None:
    outcome = outcomes[name]
    raised = [(round(t, 1), e.rule, e.phase.value, dict(e.details)) for t, e in outcome.events]
    assert outcome.false_positives == 0, raised
    assert outcome.missed == 0, (outcome.scenario.expected, raised)
    assert outcome.true_positives == len(outcome.scenario.expected)
    if outcome.scenario.lawful:
        assert outcome.events == ()


def test_precision_and_recall_per_rule(outcomes: dict[str, ScenarioOutcome]) -> None:
    scores = score(list(outcomes.values()))
    assert set(scores) == {"stall_dwell", "cross_door", "muck_truck", "construction_site"}
    for rule_score in scores.values():
        assert rule_score.expected >= 1, rule_score  # every rule has a violation to find
        assert rule_score.scenarios >= 2, rule_score  # and a lawful scenario to keep quiet on
        assert (rule_score.precision, rule_score.recall) == (1.0, 1.0), rule_score


def test_one_case_per_violation(outcomes: dict[str, ScenarioOutcome]) -> None:
    for outcome in outcomes.values():
        by_case: dict[str, list[str]] = {}
        for _, e in outcome.events:
            by_case.setdefault(e.event_id, []).append(e.phase.value)
        for phases in by_case.values():
            assert phases[0] == "start" and phases.count("start") == 1, phases
            assert phases[-1] == "end" and phases.count("end") == 1, phases


def test_cross_door_case_names_the_shop(outcomes: dict[str, ScenarioOutcome]) -> None:
    ((_, start),) = outcomes["goods_beyond_line"].starts()
    assert start.details["shop_id"] == "SH-0042"
    assert start.details["shop_name"] == "Corner Grocery"


def test_open_truck_case_carries_load_and_plate(outcomes: dict[str, ScenarioOutcome]) -> None:
    ((_, start),) = outcomes["truck_open"].starts()
    assert start.details["cover"] == "uncovered"
    kinds = [a.kind for a in start.attachments]
    assert kinds == [EvidenceKind.LOAD, EvidenceKind.PLATE]
    assert all(isinstance(a, ImageAttachment) and a.image.size > 0 for a in start.attachments)


def test_sensor_case_carries_the_series(outcomes: dict[str, ScenarioOutcome]) -> None:
    ((_, start),) = outcomes["dust_over_limit"].starts()
    assert start.label == "pm10" and float(start.details["pm10_mean_ugm3"]) == 210.0
    (series,) = start.attachments
    assert isinstance(series, JsonAttachment) and series.kind is EvidenceKind.SENSOR_SERIES


def test_camera_and_sensor_of_one_site_are_one_case(outcomes: dict[str, ScenarioOutcome]) -> None:
    outcome = outcomes["site_and_dust"]
    assert len({e.event_id for _, e in outcome.events}) == 1
    conditions = [e.details["conditions"] for _, e in outcome.events]
    assert conditions[0] == "bare_soil" and "bare_soil,pm10" in conditions
