"""The scripted rule scenarios themselves: zones from the scene, clocks, sensors, truth."""

from __future__ import annotations

import itertools

import pytest

from training.scenes.classes import CLASSES
from training.scenes.rule_scenarios import (
    RULE_SCENARIOS,
    SIZE,
    ExpectedCase,
    RuleScenario,
    ScenarioOutcome,
    _match,
    build_scenario,
    render_frames,
)


@pytest.mark.parametrize("name", RULE_SCENARIOS)
def test_scenario_is_well_formed(name: str) -> None:
    scenario = build_scenario(name)
    assert scenario.name == name
    assert scenario.lawful == (not scenario.expected)
    (zone,) = scenario.zones.zones  # valid zone file content, one zone on the scene
    assert all(c.zone_id == zone.id and c.rule == scenario.rule for c in scenario.expected)
    assert all(
        0 <= c.start_after_s < c.start_before_s <= scenario.seconds for c in scenario.expected
    )


def test_every_rule_has_a_violation_and_a_lawful_scenario() -> None:
    rules: dict[str, list[bool]] = {}
    for name in RULE_SCENARIOS:
        s = build_scenario(name)
        rules.setdefault(s.rule, []).append(s.lawful)
    assert set(rules) == {"stall_dwell", "cross_door", "muck_truck", "construction_site"}
    assert all(True in kinds and False in kinds for kinds in rules.values())


def test_seeds_are_unique() -> None:
    seeds = [build_scenario(n).seed for n in RULE_SCENARIOS]
    assert len(set(seeds)) == len(seeds) and min(seeds) >= 7101


def test_frames_carry_time_truth_and_readings_once() -> None:
    scenario = build_scenario("dust_over_limit")
    frames = list(itertools.islice(render_frames(scenario, images=True), 12))
    assert [f.index for f in frames] == list(range(12))
    assert all(b.ts > a.ts for a, b in itertools.pairwise(frames))
    assert frames[0].image is not None and frames[0].image.shape == (SIZE[1], SIZE[0], 3)
    delivered = [s for f in frames for s in f.readings]
    assert len(delivered) == len({(s.sensor_id, s.measured_at) for s in delivered})
    assert len(frames[0].readings) == 15  # the 14 minutes before the clip, and its start
    truth = frames[0].truth()
    assert truth.names == CLASSES and "dust_net" in truth.class_name


def test_unknown_scenario() -> None:
    with pytest.raises(ValueError, match="unknown scenario 'stall'"):
        build_scenario("stall")


def test_matching_counts_late_and_extra_cases() -> None:
    from datetime import timedelta

    import numpy as np

    from contracts.events import EventPhase, ViolationType
    from edge.rules import RuleEvent

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
    outcome: ScenarioOutcome = _match(scenario, (on_time, late), 10)
    assert (outcome.true_positives, outcome.false_positives, outcome.missed) == (1, 1, 0)
    outcome = _match(scenario, (late,), 10)
    assert (outcome.true_positives, outcome.false_positives, outcome.missed) == (0, 1, 1)
    outcome = _match(scenario, (late,), 10, slack_s=5.0)  # late, but within the slack
    assert (outcome.true_positives, outcome.false_positives, outcome.missed) == (1, 0, 0)
