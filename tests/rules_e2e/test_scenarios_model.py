"""The rules on scripted scenarios with the project's detector instead of the truth boxes.

Runs only when the default model (``models/registry.yaml``) exists (it is trained from the scene
generator by the training pipeline); slow, since every frame goes through the detector.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.detectors import create_detector, parse_detector_config
from edge.rules.cover import OnnxCoverClassifier
from training.registry import default_model
from training.scenes.rule_scenarios import build_scenario, play, score

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
MODEL = default_model()
SUBSET = (
    "stall_illegal",
    "stall_legal_hours",
    "goods_beyond_line",
    "goods_behind_line",
    "truck_open",
    "truck_covered",
    "truck_open_first",
    "trucks_both_open",
    "site_net_removed",
    "site_netted",
)


@pytest.fixture(scope="module")
def detector():  # type: ignore[no-untyped-def]
    if not MODEL.is_file():
        pytest.skip(f"{MODEL.relative_to(REPO)} is not there yet (the training pipeline makes it)")
    return create_detector(
        parse_detector_config({"type": "yolo", "path": str(MODEL), "confidence": 0.1})
    )


def test_rules_with_the_project_detector(detector) -> None:  # type: ignore[no-untyped-def]
    cover = OnnxCoverClassifier(REPO / "models" / "cover-v1.onnx")
    # a detector sees objects later than the truth: a case may start up to 15 s late
    outcomes = [
        play(build_scenario(name), detector=detector, cover=cover, slack_s=15.0) for name in SUBSET
    ]
    report = {o.scenario.name: (o.true_positives, o.false_positives, o.missed) for o in outcomes}
    for rule_score in score(outcomes).values():
        assert (rule_score.precision, rule_score.recall) == (1.0, 1.0), (rule_score, report)
