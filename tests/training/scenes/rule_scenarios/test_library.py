"""The library of scripted rule scenarios: zones from the scene, clocks, sensors, expected cases."""

from __future__ import annotations

import pytest

from training.scenes.rule_scenarios import RULE_SCENARIOS, build_scenario


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


def test_unknown_scenario() -> None:
    with pytest.raises(ValueError, match="unknown scenario 'stall'"):
        build_scenario("stall")
