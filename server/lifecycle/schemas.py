"""API shapes of the lifecycle: transitions, disposals, the file chain, and request bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from contracts.ids import Identifier
from server.lifecycle.tables import TransitionAction
from server.tables import CaseStatus

_NOTE = Field(default=None, max_length=2000)


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)


class TransitionOut(_Out):
    """One transition of a case (the audit row; ``id`` grows with every change)."""

    id: int
    case_id: int
    action: TransitionAction
    from_status: CaseStatus
    to_status: CaseStatus
    actor: str = Field(description="The user name, or system.")
    unit_id: str | None = Field(description="The acting account's unit (null: city-wide).")
    at: datetime
    note: str | None
    detail: dict[str, Any] = Field(
        description="Action facts: team_unit_id and deadline_at (dispatch), from_unit_id and "
        "to_unit_id (escalate), disposal_id and photos (dispose)."
    )


class DisposalPhotoOut(_Out):
    sha256: str
    content_type: str
    byte_size: int
    width: int
    height: int
    url: str = Field(description="GET returns the bytes (GET /api/v1/evidence/{sha256}).")


class DisposalOut(_Out):
    """What a field team reported."""

    id: int
    case_id: int
    unit_id: str | None
    note: str
    by: str
    at: datetime
    photos: list[DisposalPhotoOut]


class FileRecordOut(_Out):
    seq: int
    prev_hash: str
    record_hash: str
    kind: str
    at: datetime
    actor: str
    payload: dict[str, Any]


class FileChainOut(_Out):
    """The case file chain and its verification (hashes recomputed, photo bytes re-read)."""

    case_id: int
    ok: bool
    head: str | None
    problems: list[str]
    records: list[FileRecordOut]


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError("deadline_at must carry a time zone, e.g. 2024-05-01T18:00:00+08:00")
    return value


class DispatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    team_unit_id: Identifier = Field(description="A team-level unit under the case's unit.")
    deadline_at: datetime | None = Field(
        default=None,
        description="When the team must be done (with zone); default: now plus the violation "
        "type's deadline (settings lifecycle.deadline_hours).",
    )
    note: str | None = _NOTE

    _deadline_aware = field_validator("deadline_at")(_aware)


class VerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accepted: bool = Field(description="true: verified; false: sent back to the team.")
    note: str | None = _NOTE


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = _NOTE


class ReopenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)
    to: Literal["candidate", "dispatched"] = Field(
        default="candidate",
        description="candidate: review again; dispatched: back to the last team, new deadline.",
    )
    deadline_at: datetime | None = Field(default=None, description="For to=dispatched.")

    _deadline_aware = field_validator("deadline_at")(_aware)


class EscalateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=2000)
