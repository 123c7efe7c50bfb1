"""Review labels of a case: read them; fix a box or add a missed object (issue 18).

Structured reasons travel with the verdict (``POST /cases/{id}/review``, field
``structured``); this router serves the boxes of the case's clean frame.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, status

from server.api.deps import ReaderDep, ReviewerDep, ScopeDep, SessionDep
from server.api.routes.lifecycle import visible_case
from server.core.db import utcnow
from server.review_labels.model import BoxEdit
from server.review_labels.schemas import LabelsOut, labels_out
from server.review_labels.service import LabelError, case_labels, edit_boxes
from server.tables import Case

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/cases", tags=["review labels"])

CaseId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The case id.")]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No case with this id."}}


def _case(session: SessionDep, scope: ScopeDep, case_id: int) -> Case:
    """The case if the requester's units reach it (404 otherwise, as every case route)."""
    return visible_case(session, scope=scope, case_id=case_id)


@router.get(
    "/{case_id}/labels", response_model=LabelsOut, responses=_NOT_FOUND, summary="Review labels"
)
def read_labels(
    session: SessionDep, _principal: ReaderDep, scope: ScopeDep, case_id: CaseId
) -> LabelsOut:
    """The case's clean frame, its boxes (as corrected), the structured reasons and edits."""
    return labels_out(case_labels(session, case=_case(session, scope, case_id)))


@router.post(
    "/{case_id}/labels/boxes",
    response_model=LabelsOut,
    responses={
        **_NOT_FOUND,
        422: {"description": "A box outside the image, no frame, or an unknown box id."},
    },
    summary="Fix a box or add a missed object",
)
def post_box(
    session: SessionDep, principal: ReviewerDep, scope: ScopeDep, case_id: CaseId, body: BoxEdit
) -> LabelsOut:
    """``fix``: new coordinates for a box; ``add``: a missed object (box and class).

    Allowed on any case, whatever its status; each edit is kept with reviewer and time.
    """
    case = _case(session, scope, case_id)
    reviewer = principal.username if principal.authenticated else None
    try:
        row = edit_boxes(session, case=case, edit=body, reviewer=reviewer, now=utcnow())
    except LabelError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[{"loc": ["body"], "msg": str(exc), "type": "value_error"}],
        ) from exc
    session.commit()
    logger.info(
        "case %d: box %s %s by %s", case_id, body.action.value, row.box_id or row.id, reviewer
    )
    return labels_out(case_labels(session, case=case))
