"""HTTP shapes of review labels (what ``/api/v1/cases/{id}/labels`` returns)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from server.review_labels.model import BACKGROUND, MODEL_CLASSES, FrameBox, LabelBox
from server.review_labels.service import CaseLabels
from server.review_labels.tables import LabelBoxRow, ReviewReasonRow
from server.schemas import evidence_url


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class FrameOut(_Out):
    """The clean frame the boxes are drawn on."""

    sha256: str
    url: str
    available: bool = Field(description="Its bytes have arrived.")


class FrameBoxOut(_Out):
    """A box of the clean frame as it stands after every edit."""

    box_id: str = Field(description="'detected' (the model's) or 'added-N' (a reviewer's).")
    origin: str
    class_name: str
    box: LabelBox
    fixed: bool
    wrong: bool
    really_is: str | None
    label: str | None = Field(description="The class to train on; null: background.")


class ReasonOut(_Out, from_attributes=True):
    """The structured reason of one verdict."""

    review_id: int
    code: str
    detail: str | None
    box_id: str | None
    really_is: str | None
    duplicate_of: int | None
    reviewer: str | None
    created_at: datetime


class BoxEditOut(_Out, from_attributes=True):
    """One box edit, as recorded."""

    id: int
    action: str
    box_id: str | None
    x1: float | None
    y1: float | None
    x2: float | None
    y2: float | None
    class_name: str | None
    reviewer: str | None
    created_at: datetime


class LabelsOut(_Out):
    """A case's review labels: the frame, its boxes, the reasons and every edit."""

    case_id: int
    frame: FrameOut | None = Field(description="null: the case has no clean frame.")
    classes: list[str] = Field(description="Classes a box may be added as.")
    really_is: list[str] = Field(description="What a wrong box may really be.")
    boxes: list[FrameBoxOut]
    reason: ReasonOut | None = Field(description="The latest structured reason.")
    reasons: list[ReasonOut]
    edits: list[BoxEditOut]


def _box_out(box: FrameBox) -> FrameBoxOut:
    return FrameBoxOut(
        box_id=box.box_id,
        origin=box.origin,
        class_name=box.class_name,
        box=box.box,
        fixed=box.fixed,
        wrong=box.wrong,
        really_is=box.really_is,
        label=box.label,
    )


def _reason_out(row: ReviewReasonRow) -> ReasonOut:
    return ReasonOut.model_validate(row)


def _edit_out(row: LabelBoxRow) -> BoxEditOut:
    return BoxEditOut.model_validate(row)


def labels_out(labels: CaseLabels) -> LabelsOut:
    frame = labels.frame
    return LabelsOut(
        case_id=labels.case_id,
        frame=FrameOut(
            sha256=frame.sha256, url=evidence_url(frame.sha256), available=frame.stored is not None
        )
        if frame is not None
        else None,
        classes=list(MODEL_CLASSES),
        really_is=[*MODEL_CLASSES, BACKGROUND],
        boxes=[_box_out(box) for box in labels.boxes],
        reason=_reason_out(labels.reasons[-1]) if labels.reasons else None,
        reasons=[_reason_out(row) for row in labels.reasons],
        edits=[_edit_out(row) for row in labels.edits],
    )
