"""Playing a rule scenario through the edge's analysis pipeline, and scoring what it raised.

:func:`play` runs every frame through :class:`edge.analysis.Analyzer`, the detect -> label
map -> track -> rules pipeline the edge itself runs: with ground-truth boxes, or with a
detector and its label map on the rendered pixels. The cases raised are then matched
against the scenario's expected cases (:func:`match_cases`) and summed per rule
(:func:`score`).
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.events import EventPhase
from edge.analysis import Analyzer
from edge.detectors import Detector
from edge.detectors.labels import LabelMapConfig
from edge.rules.base import RuleResources
from edge.rules.cover import CoverClassifier
from edge.rules.events import RuleEvent
from edge.tracking import ByteTrackSettings, SimpleTrackerSettings
from training.scenes.rule_scenarios.frames import render_frames
from training.scenes.rule_scenarios.scenario import SIZE, RuleScenario


@dataclass(frozen=True, slots=True)
class ScenarioOutcome:
    """What the rules raised on a scenario, matched against its expected cases.

    Attributes:
        scenario: The scenario.
        events: ``(scenario time, event)`` for every event, the closing ones at the end.
        true_positives: Expected cases whose start came in their window (with their
            conditions).
        false_positives: Cases started that match no expected case.
        missed: Expected cases that did not start in their window.
        frames: Frames analysed.
    """

    scenario: RuleScenario
    events: tuple[tuple[float, RuleEvent], ...]
    true_positives: int
    false_positives: int
    missed: int
    frames: int

    def starts(self) -> list[tuple[float, RuleEvent]]:
        """The ``start`` events."""
        return [(t, e) for t, e in self.events if e.phase is EventPhase.START]


@dataclass(frozen=True, slots=True)
class RuleScore:
    """Precision and recall of one rule's cases over a set of scenarios."""

    rule: str
    scenarios: int
    expected: int
    true_positives: int
    false_positives: int
    missed: int

    @property
    def precision(self) -> float:
        """Share of raised cases that were expected (1.0 when none was raised)."""
        raised = self.true_positives + self.false_positives
        return self.true_positives / raised if raised else 1.0

    @property
    def recall(self) -> float:
        """Share of expected cases that were raised (1.0 when none was expected)."""
        return self.true_positives / self.expected if self.expected else 1.0


def play(
    scenario: RuleScenario,
    *,
    detector: Detector | None = None,
    label_map: LabelMapConfig | None = None,
    cover: CoverClassifier | None = None,
    tracker: ByteTrackSettings | SimpleTrackerSettings | None = None,
    slack_s: float = 0.0,
) -> ScenarioOutcome:
    """Run a scenario through the edge's analysis pipeline, then score it.

    Args:
        scenario: The scenario.
        detector: The detector that finds the objects on the rendered pixels; the truth
            boxes when omitted.
        label_map: The detector's classes -> object names (its class names when omitted).
        cover: The truck cover classifier (loaded from the settings' path when omitted and
            the scenario has a road zone).
        tracker: Tracker settings; ByteTrack's defaults when omitted.
        slack_s: Extra seconds a case may start after its window (a detector finds objects
            later than the truth boxes show them; the delay is the cost, not a wrong case).

    Returns:
        The events and how they match the expected cases.

    Raises:
        RuntimeError: A rule of the scenario's zones could not be set up.
    """
    analyzer = Analyzer(
        zones=scenario.zones,
        detector=detector,
        label_map=label_map,
        tracker=tracker,
        settings=scenario.settings,
        resources=RuleResources(cover_classifier=cover),
    )
    engine = analyzer.engine_for(SIZE)
    if engine.failures:
        raise RuntimeError("; ".join(engine.failures))
    events: list[tuple[float, RuleEvent]] = []
    frames = 0
    last_t, last_ts = 0.0, scenario.clock_start
    for shot in render_frames(scenario):
        truth = shot.truth() if detector is None else None
        analysis = analyzer.analyse(
            shot.frame(scenario.camera_id), detections=truth, readings=shot.readings
        )
        events.extend((shot.t_s, event) for event in analysis.events)
        frames += 1
        last_t, last_ts = shot.t_s, shot.ts
    events.extend((last_t, e) for e in analyzer.close(last_ts))
    return match_cases(scenario, tuple(events), frames, slack_s)


def match_cases(
    scenario: RuleScenario,
    events: tuple[tuple[float, RuleEvent], ...],
    frames: int,
    slack_s: float = 0.0,
) -> ScenarioOutcome:
    """Match the cases ``events`` started against the scenario's expected cases.

    A case matches an expected one of its rule and zone when it starts in the expected
    window (up to ``slack_s`` late) and carries the expected conditions by its end; each
    started case matches at most one.

    Args:
        scenario: The scenario.
        events: ``(scenario time, event)`` in the order raised.
        frames: Frames analysed.
        slack_s: Extra seconds a case may start after its window.

    Returns:
        The outcome: true and false positives, and the expected cases missed.
    """
    conditions: dict[str, set[str]] = {}
    for _, e in events:
        conditions.setdefault(e.event_id, set()).update(
            str(e.details.get("conditions", "")).split(",")
        )
    starts = [(t, e) for t, e in events if e.phase is EventPhase.START]
    used: set[str] = set()
    tp = 0
    for case in scenario.expected:
        for t, e in starts:
            if e.event_id in used or e.rule != case.rule or e.zone_id != case.zone_id:
                continue
            if not case.start_after_s <= t <= case.start_before_s + slack_s:
                continue
            if not set(case.conditions) <= conditions[e.event_id]:
                continue
            used.add(e.event_id)
            tp += 1
            break
    fp = sum(1 for _, e in starts if e.event_id not in used)
    return ScenarioOutcome(scenario, events, tp, fp, len(scenario.expected) - tp, frames)


def score(outcomes: list[ScenarioOutcome]) -> dict[str, RuleScore]:
    """Precision and recall per rule over ``outcomes``."""
    by_rule: dict[str, list[ScenarioOutcome]] = {}
    for outcome in outcomes:
        by_rule.setdefault(outcome.scenario.rule, []).append(outcome)
    return {
        rule: RuleScore(
            rule=rule,
            scenarios=len(group),
            expected=sum(len(o.scenario.expected) for o in group),
            true_positives=sum(o.true_positives for o in group),
            false_positives=sum(o.false_positives for o in group),
            missed=sum(o.missed for o in group),
        )
        for rule, group in sorted(by_rule.items())
    }
