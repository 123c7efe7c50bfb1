"""The gate's rule on hand-made measurements (pure)."""

from __future__ import annotations

import pytest

from training.evaluate import ClassMetrics, HoldoutReport
from training.gate.decide import decide
from training.gate.reviewed import ClassRecall, ReviewedResult
from training.scenes.classes import CLASSES


def reviewed(false_cases: int, found: dict[str, int], images: int = 10) -> ReviewedResult:
    return ReviewedResult(
        split="test",
        images=images,
        hard_negatives=3,
        false_cases=false_cases,
        false_frames=min(false_cases, images),
        per_class=[
            ClassRecall(
                name=n, instances=10 if n in ("stall", "goods") else 0, found=found.get(n, 0)
            )
            for n in CLASSES
        ],
        confidence=0.35,
        wall_s=1.0,
    )


def holdout(map50: float, recall: float) -> HoldoutReport:
    return HoldoutReport(
        model="m.onnx",
        sha256="0" * 64,
        dataset="d",
        seed=9001,
        images=20,
        imgsz=320,
        map50=map50,
        map50_95=map50 / 2,
        per_class=[
            ClassMetrics(
                name=n, instances=5, precision=0.9, recall=recall, map50=map50, map50_95=map50 / 2
            )
            for n in CLASSES
        ],
        wall_s=1.0,
    )


GOOD = {"stall": 9, "goods": 8}


def test_fewer_false_cases_and_same_recall_pass() -> None:
    decision = decide(
        reviewed=(reviewed(2, GOOD), reviewed(7, GOOD)),
        holdout=(holdout(0.895, 0.80), holdout(0.90, 0.805)),
        real=None,
        skipped=["real-image table: absent"],
    )
    assert decision.passed, decision.failures
    assert decision.skipped == ["real-image table: absent"]
    assert {c.material for c in decision.checks} == {"reviewed", "holdout"}


@pytest.mark.parametrize(
    ("cand", "against", "failed"),
    [
        ((7, GOOD), (7, GOOD), "false cases"),  # not fewer
        ((8, GOOD), (7, GOOD), "false cases"),
        ((2, {"stall": 8, "goods": 8}), (7, GOOD), "recall stall"),  # 10 points lost
    ],
)
def test_reviewed_failures(
    cand: tuple[int, dict[str, int]], against: tuple[int, dict[str, int]], failed: str
) -> None:
    decision = decide(
        reviewed=(reviewed(*cand), reviewed(*against)), holdout=None, real=None, skipped=[]
    )
    assert not decision.passed
    assert failed in [c.name for c in decision.failures]


def test_none_is_enough_when_the_current_model_makes_none() -> None:
    assert decide(
        reviewed=(reviewed(0, GOOD), reviewed(0, GOOD)), holdout=None, real=None, skipped=[]
    ).passed


def test_more_than_one_point_of_holdout_is_refused() -> None:
    decision = decide(
        reviewed=(reviewed(1, GOOD), reviewed(5, GOOD)),
        holdout=(holdout(0.88, 0.79), holdout(0.90, 0.80)),
        real=None,
        skipped=[],
    )
    assert not decision.passed
    assert {c.name for c in decision.failures} == {"mAP50"}
    exactly_one = decide(
        reviewed=(reviewed(1, GOOD), reviewed(5, GOOD)),
        holdout=(holdout(0.89, 0.79), holdout(0.90, 0.80)),
        real=None,
        skipped=[],
    )
    assert exactly_one.passed


def test_different_material_is_refused() -> None:
    with pytest.raises(ValueError, match="different reviewed frames"):
        decide(
            reviewed=(reviewed(1, GOOD, images=9), reviewed(1, GOOD)),
            holdout=None,
            real=None,
            skipped=[],
        )
