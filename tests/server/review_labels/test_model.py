"""The pure part of review labels: validation of reasons, edits and boxes; folding edits."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from server.review_labels.model import (
    BoxAction,
    BoxEdit,
    BoxOp,
    FrameBox,
    LabelBox,
    StructuredReason,
    UnknownBoxError,
    current_boxes,
)

BOX = {"x1": 0.1, "y1": 0.2, "x2": 0.3, "y2": 0.4}


@pytest.mark.parametrize(
    ("box", "message"),
    [
        ({"x1": -0.1, "y1": 0.2, "x2": 0.3, "y2": 0.4}, "x1=-0.1 lies outside the image"),
        ({"x1": 0.1, "y1": 0.2, "x2": 1.2, "y2": 0.4}, "x2=1.2 lies outside the image"),
        ({"x1": 0.3, "y1": 0.2, "x2": 0.3, "y2": 0.4}, "no positive size"),
        ({"x1": 0.1, "y1": 0.5, "x2": 0.3, "y2": 0.4}, "no positive size"),
    ],
)
def test_box_outside_or_empty_is_refused(box: dict[str, float], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        LabelBox.model_validate(box)


def test_box_inside_is_taken() -> None:
    assert LabelBox.model_validate(BOX).x2 == 0.3
    assert LabelBox.model_validate({"x1": 0, "y1": 0, "x2": 1, "y2": 1}).y2 == 1


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ({"code": "not_a_violation"}, "detail"),
        ({"code": "wrong_place", "detail": "lawful"}, "detail"),
        ({"code": "wrong_object"}, "needs box_id"),
        ({"code": "wrong_object", "box_id": "detected", "really_is": "cat"}, "unknown class"),
        ({"code": "wrong_place", "box_id": "detected"}, "go with wrong_object"),
        ({"code": "duplicate"}, "duplicate_of"),
        ({"code": "evidence_unusable", "duplicate_of": 3}, "duplicate_of"),
        ({"code": "bored"}, "code"),
    ],
)
def test_structured_reason_refuses_fields_of_other_codes(
    reason: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        StructuredReason.model_validate(reason)


@pytest.mark.parametrize(
    ("reason", "summary"),
    [
        ({"code": "not_a_violation", "detail": "licensed"}, "not_a_violation: licensed"),
        (
            {"code": "wrong_object", "box_id": "detected", "really_is": "background"},
            "wrong_object: box detected (really background)",
        ),
        ({"code": "wrong_object", "box_id": "added-3"}, "wrong_object: box added-3"),
        ({"code": "duplicate", "duplicate_of": 7}, "duplicate of case 7"),
        ({"code": "wrong_place"}, "wrong_place"),
        ({"code": "evidence_unusable"}, "evidence_unusable"),
    ],
)
def test_structured_reason_summary(reason: dict[str, Any], summary: str) -> None:
    assert StructuredReason.model_validate(reason).summary() == summary


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"action": "fix", "box": BOX}, "fix needs box_id"),
        ({"action": "fix", "box_id": "detected", "box": BOX, "class_name": "car"}, "class_name"),
        ({"action": "add", "box": BOX}, "add needs class_name"),
        ({"action": "add", "box": BOX, "class_name": "background"}, "unknown class"),
        ({"action": "add", "box_id": "detected", "box": BOX, "class_name": "car"}, "box_id"),
        ({"action": "wrong", "box_id": "detected", "box": BOX}, "reject verdict"),
    ],
)
def test_box_edit_validation(edit: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        BoxEdit.model_validate(edit)


def _box(x1: float) -> LabelBox:
    return LabelBox(x1=x1, y1=0.1, x2=x1 + 0.1, y2=0.2)


def test_current_boxes_folds_edits_in_order() -> None:
    detected = FrameBox("detected", "detected", "stall", _box(0.1))
    ops = [
        BoxOp(1, BoxAction.FIX, "detected", _box(0.2), None),
        BoxOp(2, BoxAction.ADD, "", _box(0.5), "goods"),
        BoxOp(3, BoxAction.FIX, "detected", _box(0.3), None),
        BoxOp(4, BoxAction.WRONG, "added-2", None, "person"),
    ]
    boxes = {b.box_id: b for b in current_boxes(detected, ops)}
    assert list(boxes) == ["detected", "added-2"]
    assert boxes["detected"].box == _box(0.3) and boxes["detected"].fixed
    assert boxes["detected"].label == "stall"
    assert boxes["added-2"].wrong and boxes["added-2"].label == "person"


@pytest.mark.parametrize("really_is", [None, "background"])
def test_a_wrong_box_without_a_class_is_background(really_is: str | None) -> None:
    detected = FrameBox("detected", "detected", "stall", _box(0.1))
    (box,) = current_boxes(detected, [BoxOp(1, BoxAction.WRONG, "detected", None, really_is)])
    assert box.wrong and box.label is None


def test_current_boxes_empty_and_unknown() -> None:
    assert current_boxes(None, []) == []
    with pytest.raises(UnknownBoxError, match="no box 'added-9'"):
        current_boxes(None, [BoxOp(1, BoxAction.FIX, "added-9", _box(0.1), None)])
