"""Scripted scenarios for the four violation rules, lawful ones included, with their truth.

Each :class:`RuleScenario` is a short scene from the scene generator (a camera, the street,
scripted actors), the camera's **zone file derived from the scene's own geometry** (the
near pavement, a shop's frontage with its door line, the road, the construction site,
projected through the camera), the rule settings it is judged with, the wall-clock time
at which it plays (for legal and business hours), optional **sensor readings** of its site,
and the **cases it must raise** (:class:`ExpectedCase`, a time window per case; none for a
lawful scenario). :func:`render_frames` draws its frames in memory with the visible
ground-truth box of every labelled object, so rules can be tested from truth boxes (fast,
no model) or from a detector's boxes on the same pixels.

The seeds (7101 and up) are used for nothing else: not for training data, not for the
scene generator's own scenario clips.

=======================  ==================  ======  =========================================
scenario                 rule                cases   what happens
=======================  ==================  ======  =========================================
stall_illegal            stall_dwell         1       a vendor opens an umbrella stall at noon
stall_legal_hours        stall_dwell         0       the same at 19:00, inside legal hours
goods_beyond_line        cross_door          1       goods come out in three steps, two beyond
goods_behind_line        cross_door          0       goods stay between the door and the line
truck_open               muck_truck          1       a covered truck, then an open one
truck_covered            muck_truck          0       two covered trucks
truck_open_first         muck_truck          1       an open truck, then a covered one
trucks_both_open         muck_truck          2       two open trucks
site_net_removed         construction_site   1       the dust net is pulled off a soil heap
site_netted              construction_site   0       the heap stays under its net
dust_over_limit          construction_site   1       netted site, PM10 15-min mean 210 ug/m3
dust_under_limit         construction_site   0       netted site, PM10 15-min mean 90 ug/m3
site_and_dust            construction_site   1       net pulled, then PM10 rises: one case
=======================  ==================  ======  =========================================

The package holds one job a module: :mod:`.scenario` (what a scenario is),
:mod:`.projection` (the scene's geometry as zones), :mod:`.library` (the scenarios above),
:mod:`.frames` (rendering their frames) and :mod:`.scoring` (playing them through the
edge's :class:`~edge.analysis.Analyzer` and scoring the cases raised).
"""

from __future__ import annotations

from training.scenes.rule_scenarios.frames import ScenarioFrame, render_frames
from training.scenes.rule_scenarios.library import RULE_SCENARIOS, build_scenario
from training.scenes.rule_scenarios.scenario import SIZE, ExpectedCase, RuleScenario
from training.scenes.rule_scenarios.scoring import (
    RuleScore,
    ScenarioOutcome,
    match_cases,
    play,
    score,
)

__all__ = [
    "RULE_SCENARIOS",
    "SIZE",
    "ExpectedCase",
    "RuleScenario",
    "RuleScore",
    "ScenarioFrame",
    "ScenarioOutcome",
    "build_scenario",
    "match_cases",
    "play",
    "render_frames",
    "score",
]
