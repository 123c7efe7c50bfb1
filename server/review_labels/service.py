"""Database side of review labels: record reasons and box edits; read a case's labels.

Keyword-only functions; callers own the transaction (these add and flush, never commit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from contracts.events import EventPhase, EvidenceKind
from server.review_labels.model import (
    DETECTED_BOX,
    BoxAction,
    BoxEdit,
    BoxOp,
    FrameBox,
    LabelBox,
    ReasonCode,
    StructuredReason,
    current_boxes,
    unknown_box_message,
)
from server.review_labels.tables import LabelBoxRow, ReviewReasonRow
from server.tables import Case, CaseEvidence, CaseReview


class LabelError(ValueError):
    """A label that cannot apply to this case (no frame, unknown box, bad duplicate target)."""


@dataclass(frozen=True, slots=True)
class CaseLabels:
    """A case's review labels.

    Attributes:
        frame: The clean frame the boxes are on (``None``: the case has no frame).
        boxes: The frame's boxes after every edit.
        reasons: Structured reasons of the case's verdicts, oldest first.
        edits: Every box edit, oldest first (the audit trail).
    """

    case_id: int
    frame: CaseEvidence | None
    boxes: list[FrameBox]
    reasons: list[ReviewReasonRow]
    edits: list[LabelBoxRow]

    @property
    def latest_reason(self) -> ReviewReasonRow | None:
        return self.reasons[-1] if self.reasons else None


def clean_frame(case: Case) -> CaseEvidence | None:
    """The case's clean full frame (evidence kind ``frame``, the earliest), or ``None``."""
    frames = [e for e in case.evidence if e.kind == EvidenceKind.FRAME.value]
    return min(frames, key=lambda e: (e.captured_at, e.id)) if frames else None


def detected_box(case: Case) -> FrameBox:
    """The model's box on the clean frame: the start event's box and label.

    The clean frame is captured at the start, so its box is the start message's; a case
    whose start message never arrived falls back to the case's latest box.
    """
    for event in case.events:
        if event.phase is EventPhase.START:
            box = event.payload.get("box")
            label = event.payload.get("label")
            if isinstance(box, dict) and isinstance(label, str):
                return FrameBox(DETECTED_BOX, "detected", label, _box_or_degenerate(box))
    return FrameBox(
        DETECTED_BOX,
        "detected",
        case.label,
        _box_or_degenerate(
            {"x1": case.box_x1, "y1": case.box_y1, "x2": case.box_x2, "y2": case.box_y2}
        ),
    )


def _box_or_degenerate(box: dict[str, object]) -> LabelBox:
    """The edge's box; one of zero size (allowed on the wire) is widened by a hair."""
    x1, y1, x2, y2 = (float(box[k]) for k in ("x1", "y1", "x2", "y2"))  # type: ignore[arg-type]
    eps = 1e-4
    if x2 <= x1:
        x1, x2 = max(0.0, x1 - eps), min(1.0, x2 + eps)
    if y2 <= y1:
        y1, y2 = max(0.0, y1 - eps), min(1.0, y2 + eps)
    return LabelBox(x1=x1, y1=y1, x2=x2, y2=y2)


def _op(row: LabelBoxRow) -> BoxOp:
    box = None
    if row.x1 is not None and row.y1 is not None and row.x2 is not None and row.y2 is not None:
        box = LabelBox(x1=row.x1, y1=row.y1, x2=row.x2, y2=row.y2)
    return BoxOp(row.id, BoxAction(row.action), row.box_id or "", box, row.class_name)


def labels_of(
    case: Case, reasons: Sequence[ReviewReasonRow], edits: Sequence[LabelBoxRow]
) -> CaseLabels:
    """Fold a case's stored rows into its labels (``case`` with events and evidence loaded)."""
    frame = clean_frame(case)
    detected = detected_box(case) if frame is not None else None
    boxes = current_boxes(detected, [_op(row) for row in edits])
    return CaseLabels(case.id, frame, boxes, list(reasons), list(edits))


def case_labels(session: Session, *, case: Case) -> CaseLabels:
    """The labels of one case (``case`` with events and evidence loaded)."""
    return labels_for_cases(session, [case])[case.id]


def labels_for_cases(session: Session, cases: Sequence[Case]) -> dict[int, CaseLabels]:
    """The labels of many cases in two queries (cases with events and evidence loaded)."""
    ids = [case.id for case in cases]
    reasons: dict[int, list[ReviewReasonRow]] = {i: [] for i in ids}
    edits: dict[int, list[LabelBoxRow]] = {i: [] for i in ids}
    if ids:
        for reason in session.scalars(
            select(ReviewReasonRow)
            .where(ReviewReasonRow.case_id.in_(ids))
            .order_by(ReviewReasonRow.id)
        ):
            reasons[reason.case_id].append(reason)
        for edit in session.scalars(
            select(LabelBoxRow).where(LabelBoxRow.case_id.in_(ids)).order_by(LabelBoxRow.id)
        ):
            edits[edit.case_id].append(edit)
    return {case.id: labels_of(case, reasons[case.id], edits[case.id]) for case in cases}


def _require_frame(case: Case) -> CaseEvidence:
    frame = clean_frame(case)
    if frame is None:
        raise LabelError(
            f"case {case.id} has no clean frame (evidence kind 'frame'): its boxes cannot be edited"
        )
    return frame


def edit_boxes(
    session: Session, *, case: Case, edit: BoxEdit, reviewer: str | None, now: datetime
) -> LabelBoxRow:
    """Record a fix or an add on the case's clean frame.

    Raises:
        LabelError: The case has no clean frame, or ``fix`` names a box it does not have.
    """
    frame = _require_frame(case)
    labels = case_labels(session, case=case)
    if edit.action is BoxAction.FIX and edit.box_id not in {b.box_id for b in labels.boxes}:
        raise LabelError(unknown_box_message(edit.box_id or "", labels.boxes))
    row = LabelBoxRow(
        case_id=case.id,
        frame_sha256=frame.sha256,
        action=edit.action.value,
        box_id=edit.box_id,
        x1=edit.box.x1,
        y1=edit.box.y1,
        x2=edit.box.x2,
        y2=edit.box.y2,
        class_name=edit.class_name,
        reviewer=reviewer,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def record_reason(
    session: Session,
    *,
    case: Case,
    review: CaseReview,
    reason: StructuredReason,
    now: datetime,
) -> ReviewReasonRow:
    """Store the structured reason of ``review``; ``wrong_object`` also marks the box wrong.

    Raises:
        LabelError: ``wrong_object`` names a box the frame does not have (or there is no
            frame); ``duplicate`` names this case or a case that does not exist.
    """
    if reason.code is ReasonCode.WRONG_OBJECT:
        frame = _require_frame(case)
        labels = case_labels(session, case=case)
        if reason.box_id not in {b.box_id for b in labels.boxes}:
            raise LabelError(unknown_box_message(reason.box_id or "", labels.boxes))
        session.add(
            LabelBoxRow(
                case_id=case.id,
                frame_sha256=frame.sha256,
                action=BoxAction.WRONG.value,
                box_id=reason.box_id,
                class_name=reason.really_is,
                reviewer=review.reviewer,
                created_at=now,
            )
        )
    if reason.code is ReasonCode.DUPLICATE:
        if reason.duplicate_of == case.id:
            raise LabelError(f"case {case.id} cannot duplicate itself")
        if session.get(Case, reason.duplicate_of) is None:
            raise LabelError(f"duplicate_of: no case {reason.duplicate_of}")
    row = ReviewReasonRow(
        case_id=case.id,
        review_id=review.id,
        code=reason.code.value,
        detail=reason.detail.value if reason.detail is not None else None,
        box_id=reason.box_id,
        really_is=reason.really_is,
        duplicate_of=reason.duplicate_of,
        reviewer=review.reviewer,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row
