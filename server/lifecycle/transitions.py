"""The case lifecycle as a table of moves: which action takes which status where. Pure.

    candidate ─confirm→ confirmed ─dispatch→ dispatched ─dispose→ disposed ─verify→ verified
        │                  │                    ▲    │                 │                │
        ├─reject→ rejected  escalate (unit up)   │    overdue (mark)    └─send_back───────┘ close
        └─escalate→ escalated ─confirm/reject→ …                                         ▼
    closed | rejected ─reopen→ candidate | dispatched                                 closed

Escalate moves the case's assigned unit to the parent unit; from candidate it also marks
the case escalated (a decision above is awaited). Overdue does not change the status.

Example:
    >>> next_status(CaseStatus.CONFIRMED, TransitionAction.DISPATCH)
    <CaseStatus.DISPATCHED: 'dispatched'>
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from server.core.config import LifecycleSettings
from server.lifecycle.tables import TransitionAction
from server.tables import CaseStatus

A = TransitionAction
S = CaseStatus

MOVES: Final[dict[TransitionAction, dict[CaseStatus, CaseStatus]]] = {
    A.CONFIRM: {S.CANDIDATE: S.CONFIRMED, S.ESCALATED: S.CONFIRMED},
    A.REJECT: {S.CANDIDATE: S.REJECTED, S.ESCALATED: S.REJECTED},
    A.ESCALATE: {S.CANDIDATE: S.ESCALATED, S.ESCALATED: S.ESCALATED, S.CONFIRMED: S.CONFIRMED},
    A.DISPATCH: {S.CONFIRMED: S.DISPATCHED},
    A.DISPOSE: {S.DISPATCHED: S.DISPOSED},
    A.VERIFY: {S.DISPOSED: S.VERIFIED},
    A.SEND_BACK: {S.DISPOSED: S.DISPATCHED},
    A.CLOSE: {S.VERIFIED: S.CLOSED},
    A.OVERDUE: {S.DISPATCHED: S.DISPATCHED},
}
"""Every allowed move but reopen (whose target is chosen): action → {from: to}."""

REOPENABLE: Final[frozenset[CaseStatus]] = frozenset({S.CLOSED, S.REJECTED})
REOPEN_TARGETS: Final[frozenset[CaseStatus]] = frozenset({S.CANDIDATE, S.DISPATCHED})


class TransitionConflictError(ValueError):
    """The action is not allowed from the case's status (HTTP 409)."""


def next_status(
    status: CaseStatus, action: TransitionAction, *, reopen_to: CaseStatus | None = None
) -> CaseStatus:
    """The status ``action`` leads to from ``status``.

    Raises:
        TransitionConflictError: The move is not allowed; the message names what is.
    """
    if action is A.REOPEN:
        if status not in REOPENABLE:
            raise TransitionConflictError(
                f"a {status.value} case cannot be reopened (only closed or rejected ones)"
            )
        if reopen_to not in REOPEN_TARGETS:
            raise TransitionConflictError("a case reopens as candidate or dispatched")
        assert reopen_to is not None
        return reopen_to
    target = MOVES[action].get(status)
    if target is None:
        allowed = ", ".join(sorted(s.value for s in MOVES[action])) or "no status"
        raise TransitionConflictError(
            f"cannot {action.value} a {status.value} case (only from {allowed})"
        )
    return target


def default_deadline(
    violation_type: str, *, now: datetime, settings: LifecycleSettings
) -> datetime:
    """``now`` plus the violation type's dispatch deadline."""
    table: dict[str, float] = {str(key): value for key, value in settings.deadline_hours.items()}
    hours = table.get(violation_type, settings.default_deadline_hours)
    return now + timedelta(hours=hours)
