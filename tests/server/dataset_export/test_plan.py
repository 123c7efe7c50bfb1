"""What a reviewed case gives the training set, the split and the folding (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from server.dataset_export.plan import (
    Folder,
    FrameKind,
    FramePlan,
    ReviewedCase,
    Skipped,
    Split,
    SplitPolicy,
    plan_case,
    yolo_labels,
)
from server.review_labels.model import FrameBox, LabelBox

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
DETECTED = FrameBox("detected", "detected", "stall", LabelBox(x1=0.1, y1=0.2, x2=0.3, y2=0.6))
ADDED = FrameBox("added-4", "added", "goods", LabelBox(x1=0.5, y1=0.5, x2=0.7, y2=0.9))


def case(**overrides: object) -> ReviewedCase:
    fields: dict[str, object] = {
        "case_id": 1,
        "event_id": "0" * 32,
        "edge_id": "edge-1",
        "camera_id": "cam-1",
        "first_seen": T0,
        "outcome": "confirmed",
        "reason_code": None,
        "reason_detail": None,
        "reason_text": None,
        "reviewer": "li",
        "model_name": "civicwatch-street",
        "model_version": "5",
        "model_sha256": "ab" * 32,
        "frame_sha256": "cd" * 32,
        "boxes": (DETECTED, ADDED),
    }
    fields.update(overrides)
    return ReviewedCase(**fields)  # type: ignore[arg-type]


def test_yolo_label_lines() -> None:
    (label,) = yolo_labels([DETECTED])
    assert label.line() == "3 0.200000 0.400000 0.200000 0.400000"
    assert yolo_labels([]) == []


def test_confirmed_boxes_are_labels() -> None:
    plan = plan_case(case())
    assert isinstance(plan, FramePlan) and plan.kind is FrameKind.POSITIVE
    assert [lab.class_id for lab in plan.labels] == [3, 4]


@pytest.mark.parametrize(
    ("really_is", "classes"), [(None, [4]), ("background", [4]), ("person", [0, 4])]
)
def test_wrong_object_is_a_hard_negative(really_is: str | None, classes: list[int]) -> None:
    wrong = replace(DETECTED, wrong=True, really_is=really_is)
    plan = plan_case(case(outcome="rejected", reason_code="wrong_object", boxes=(wrong, ADDED)))
    assert isinstance(plan, FramePlan) and plan.kind is FrameKind.HARD_NEGATIVE
    assert [lab.class_id for lab in plan.labels] == classes
    assert "stall" in plan.judged and "goods" in plan.judged


def test_a_wrong_box_alone_leaves_an_empty_label_file() -> None:
    wrong = replace(DETECTED, wrong=True)
    plan = plan_case(case(outcome="rejected", reason_code="wrong_object", boxes=(wrong,)))
    assert isinstance(plan, FramePlan) and plan.labels == ()


@pytest.mark.parametrize("code", ["not_a_violation", "wrong_place"])
def test_rule_level_rejects_keep_the_objects(code: str) -> None:
    plan = plan_case(case(outcome="rejected", reason_code=code))
    assert isinstance(plan, FramePlan) and plan.kind is FrameKind.POSITIVE
    assert len(plan.labels) == 2


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"frame_sha256": None}, "no clean frame"),
        ({"outcome": "escalated"}, "not finally reviewed"),
        ({"outcome": "rejected"}, "free text only"),
        ({"outcome": "rejected", "reason_code": "duplicate", "duplicate_of": 9}, "case 9"),
        ({"outcome": "rejected", "reason_code": "evidence_unusable"}, "unusable"),
        (
            {"boxes": (FrameBox("detected", "detected", "pm10", DETECTED.box),)},
            "'pm10', not one of",
        ),
    ],
)
def test_skipped_with_a_reason(overrides: dict[str, object], reason: str) -> None:
    plan = plan_case(case(**overrides))
    assert isinstance(plan, Skipped) and reason in plan.reason


def test_split_keeps_a_camera_block_on_one_side() -> None:
    policy = SplitPolicy(block_hours=24, val_fraction=0.2, test_fraction=0.2)
    seen: dict[str, set[Split]] = {}
    for camera in range(20):
        for minutes in range(0, 3 * 24 * 60, 37):
            at = T0 + timedelta(minutes=minutes)
            group = policy.group(f"cam-{camera}", at)
            seen.setdefault(group, set()).add(policy.split_of(group))
    assert all(len(splits) == 1 for splits in seen.values())
    every = [next(iter(s)) for s in seen.values()]
    assert {Split.TRAIN, Split.VAL, Split.TEST} == set(every)
    # a group's split does not depend on what else is exported (frozen test split)
    assert SplitPolicy(24, 0.2, 0.2).split_of("cam-3@1") == policy.split_of("cam-3@1")


@pytest.mark.parametrize(("block", "val", "test"), [(0, 0.1, 0.1), (24, -0.1, 0.1), (24, 0.5, 0.5)])
def test_split_policy_refuses_nonsense(block: float, val: float, test: float) -> None:
    with pytest.raises(ValueError):
        SplitPolicy(block, val, test)


def test_folder_folds_within_a_camera_only() -> None:
    folder = Folder(max_bits=2)
    assert folder.fold("cam-1", 1, 0b1111) is None
    assert folder.fold("cam-1", 2, 0b1110) == (1, 1)
    assert folder.fold("cam-2", 3, 0b1111) is None
    assert folder.fold("cam-1", 4, 0b0000) is None
