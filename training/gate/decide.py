"""The gate's rule, pure: fewer false cases, and no more than 1 point of recall lost anywhere.

A check compares one number of the candidate with the same number of the model it would
replace, measured on the same material:

* reviewed test split: false cases (detections matching no label at the deployment
  threshold) must be fewer (when the current model makes none, none is required);
  recall, overall and per class with labels, may drop by at most ``max_recall_drop``;
* held-out rendered scenes: recall per class with instances, and mAP50, likewise;
* real-image table (when measured): false stall/goods boxes on the no-violation clips must
  not grow; the share of truck photos with a truck, of stall/goods photos with a stall or
  goods box and of bare-soil photos with a soil box may drop by at most ``max_recall_drop``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from training.evaluate import HoldoutReport
from training.gate.reviewed import ReviewedResult
from training.real_eval.records import RealSummary

MAX_RECALL_DROP = 0.01
"""One point of recall (0..1 scale)."""


class Check(BaseModel):
    """One comparison of the gate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    material: str = Field(description="reviewed, holdout or real.")
    name: str
    candidate: float
    against: float
    rule: str = Field(description="What the candidate must do.")
    passed: bool


class GateDecision(BaseModel):
    """All checks and the verdict."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    passed: bool
    checks: list[Check]
    skipped: list[str] = Field(description="Materials not measured, with the reason.")

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]


def _recall(material: str, name: str, cand: float, against: float, drop: float) -> Check:
    return Check(
        material=material,
        name=name,
        candidate=cand,
        against=against,
        rule=f"recall drop <= {100 * drop:.0f} point",
        passed=cand >= against - drop - 1e-9,
    )


def reviewed_checks(cand: ReviewedResult, against: ReviewedResult, drop: float) -> list[Check]:
    if cand.images != against.images:
        raise ValueError("the two models ran on different reviewed frames")
    checks = [
        Check(
            material="reviewed",
            name="false cases",
            candidate=cand.false_cases,
            against=against.false_cases,
            rule="fewer (none when the current model makes none)",
            passed=cand.false_cases < against.false_cases or cand.false_cases == 0,
        )
    ]
    if cand.instances:
        checks.append(_recall("reviewed", "recall (all)", cand.recall, against.recall, drop))
    for c, a in zip(cand.per_class, against.per_class, strict=True):
        if c.instances:
            checks.append(_recall("reviewed", f"recall {c.name}", c.recall, a.recall, drop))
    return checks


def holdout_checks(cand: HoldoutReport, against: HoldoutReport, drop: float) -> list[Check]:
    if cand.images != against.images or cand.seed != against.seed:
        raise ValueError("the two models ran on different held-out scenes")
    checks = [
        Check(
            material="holdout",
            name="mAP50",
            candidate=cand.map50,
            against=against.map50,
            rule=f"drop <= {100 * drop:.0f} point",
            passed=cand.map50 >= against.map50 - drop - 1e-9,
        )
    ]
    for c, a in zip(cand.per_class, against.per_class, strict=True):
        if c.instances:
            checks.append(_recall("holdout", f"recall {c.name}", c.recall, a.recall, drop))
    return checks


def _share(k: int | None, n: int) -> float:
    return (k or 0) / n if n else 0.0


def real_checks(cand: RealSummary, against: RealSummary, drop: float) -> list[Check]:
    if (cand.clip_frames, cand.trucks, cand.stall_photos) != (
        against.clip_frames,
        against.trucks,
        against.stall_photos,
    ):
        raise ValueError("the two models ran on different real material")
    checks = [
        Check(
            material="real",
            name="false stall/goods boxes on no-violation clips",
            candidate=cand.false_boxes,
            against=against.false_boxes,
            rule="not more",
            passed=cand.false_boxes <= against.false_boxes,
        )
    ]
    pairs = [
        ("truck photos with a truck", cand.trucks_found, against.trucks_found, cand.trucks),
        ("stall/goods photos found", cand.stall_found, against.stall_found, cand.stall_photos),
    ]
    if cand.soil_found is not None and against.soil_found is not None:
        soil = ("bare-soil photos found", cand.soil_found, against.soil_found, cand.soil_photos)
        pairs.append(soil)
    for name, c, a, n in pairs:
        if n:
            checks.append(_recall("real", name, _share(c, n), _share(a, n), drop))
    return checks


def decide(
    *,
    reviewed: tuple[ReviewedResult, ReviewedResult],
    holdout: tuple[HoldoutReport, HoldoutReport] | None,
    real: tuple[RealSummary, RealSummary] | None,
    skipped: list[str],
    max_recall_drop: float = MAX_RECALL_DROP,
) -> GateDecision:
    """Every check on what was measured (each pair: candidate, current)."""
    checks = reviewed_checks(*reviewed, max_recall_drop)
    if holdout is not None:
        checks += holdout_checks(*holdout, max_recall_drop)
    if real is not None:
        checks += real_checks(*real, max_recall_drop)
    return GateDecision(passed=all(c.passed for c in checks), checks=checks, skipped=list(skipped))
