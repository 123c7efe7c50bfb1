"""The lifecycle move table and the deadline defaults (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.core.config import LifecycleSettings
from server.lifecycle.tables import TransitionAction as A
from server.lifecycle.transitions import (
    MOVES,
    TransitionConflictError,
    default_deadline,
    next_status,
)
from server.tables import CaseStatus as S

NOW = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)

ALLOWED = [
    (S.CANDIDATE, A.CONFIRM, S.CONFIRMED),
    (S.ESCALATED, A.CONFIRM, S.CONFIRMED),
    (S.CANDIDATE, A.REJECT, S.REJECTED),
    (S.ESCALATED, A.REJECT, S.REJECTED),
    (S.CANDIDATE, A.ESCALATE, S.ESCALATED),
    (S.ESCALATED, A.ESCALATE, S.ESCALATED),
    (S.CONFIRMED, A.ESCALATE, S.CONFIRMED),
    (S.CONFIRMED, A.DISPATCH, S.DISPATCHED),
    (S.DISPATCHED, A.DISPOSE, S.DISPOSED),
    (S.DISPOSED, A.VERIFY, S.VERIFIED),
    (S.DISPOSED, A.SEND_BACK, S.DISPATCHED),
    (S.VERIFIED, A.CLOSE, S.CLOSED),
    (S.DISPATCHED, A.OVERDUE, S.DISPATCHED),
]


@pytest.mark.parametrize(("start", "action", "end"), ALLOWED)
def test_allowed_moves(start: S, action: A, end: S) -> None:
    assert next_status(start, action) is end


@pytest.mark.parametrize(
    ("start", "action"),
    [
        (start, action)
        for action in MOVES
        for start in S
        if (start, action) not in {(s, a) for s, a, _ in ALLOWED}
    ],
)
def test_every_other_move_is_refused(start: S, action: A) -> None:
    with pytest.raises(TransitionConflictError, match=f"cannot {action.value} a {start.value}"):
        next_status(start, action)


@pytest.mark.parametrize("start", [S.CLOSED, S.REJECTED])
@pytest.mark.parametrize("to", [S.CANDIDATE, S.DISPATCHED])
def test_reopen(start: S, to: S) -> None:
    assert next_status(start, A.REOPEN, reopen_to=to) is to


@pytest.mark.parametrize("start", [s for s in S if s not in (S.CLOSED, S.REJECTED)])
def test_only_closed_or_rejected_reopen(start: S) -> None:
    with pytest.raises(TransitionConflictError, match="cannot be reopened"):
        next_status(start, A.REOPEN, reopen_to=S.CANDIDATE)


def test_reopen_needs_a_target() -> None:
    with pytest.raises(TransitionConflictError, match="candidate or dispatched"):
        next_status(S.CLOSED, A.REOPEN, reopen_to=S.VERIFIED)


@pytest.mark.parametrize(
    ("violation", "hours"),
    [
        ("street_stall", 2),
        ("cross_door", 24),
        ("muck_truck", 72),
        ("construction", 24),
        ("something_new", 24),
    ],
)
def test_default_deadlines(violation: str, hours: float) -> None:
    assert default_deadline(violation, now=NOW, settings=LifecycleSettings()) == NOW + timedelta(
        hours=hours
    )


def test_deadlines_follow_settings() -> None:
    settings = LifecycleSettings(deadline_hours={"street_stall": 0.5}, default_deadline_hours=5)
    assert default_deadline("street_stall", now=NOW, settings=settings) == NOW + timedelta(
        minutes=30
    )
    assert default_deadline("muck_truck", now=NOW, settings=settings) == NOW + timedelta(hours=5)


def test_unknown_violation_types_in_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="deadline_hours"):
        LifecycleSettings.model_validate({"deadline_hours": {"jaywalking": 1}})
