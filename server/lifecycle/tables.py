"""Tables of the case lifecycle.

``case_transitions`` is the append-only audit of every status change (and of the overdue
mark), written in the same transaction as the change, so a reader polling it by ``id``
sees every change once. ``case_disposals`` and ``case_disposal_photos`` hold what a field
team reported (the photo bytes live in the evidence store, by sha256).
``case_file_records`` is each case's hash chain over its transitions and disposals
(:mod:`server.lifecycle.file_chain`).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.tables import Base, CaseStatus, JsonType


class TransitionAction(StrEnum):
    """What a transition row records."""

    CONFIRM = "confirm"  # 立案
    REJECT = "reject"
    ESCALATE = "escalate"  # the case's assigned unit moves to the parent unit
    DISPATCH = "dispatch"
    DISPOSE = "dispose"
    VERIFY = "verify"
    SEND_BACK = "send_back"  # the disposal was not accepted: back to the team
    CLOSE = "close"
    REOPEN = "reopen"
    OVERDUE = "overdue"  # the deadline passed (status unchanged)


def _enum(cls: type[StrEnum], name: str) -> Enum:
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        validate_strings=True,
        values_callable=lambda members: [member.value for member in members],
    )


class CaseTransition(Base):
    """One change of a case (append-only; never updated or deleted except with the case)."""

    __tablename__ = "case_transitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    action: Mapped[TransitionAction] = mapped_column(_enum(TransitionAction, "transition_action"))
    from_status: Mapped[CaseStatus] = mapped_column(_enum(CaseStatus, "from_status"))
    to_status: Mapped[CaseStatus] = mapped_column(_enum(CaseStatus, "to_status"))
    actor: Mapped[str] = mapped_column(String(64))
    """The user name, or ``system`` for the overdue loop."""
    unit_id: Mapped[str | None] = mapped_column(String(64))
    """The acting account's unit (``None``: city-wide account or the system)."""
    at: Mapped[datetime] = mapped_column(index=True)
    note: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JsonType)
    """Action-specific facts: deadline, team, units moved between, photo hashes."""


class CaseDisposal(Base):
    """A field team's report that it dealt with a case: a note and one or more photos."""

    __tablename__ = "case_disposals"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[str | None] = mapped_column(String(64))
    """The team the case was dispatched to when the report came."""
    note: Mapped[str] = mapped_column(Text)
    by: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]


class CaseDisposalPhoto(Base):
    """One photo of a disposal; the bytes are in the evidence store under ``sha256``."""

    __tablename__ = "case_disposal_photos"
    __table_args__ = (UniqueConstraint("disposal_id", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    disposal_id: Mapped[int] = mapped_column(
        ForeignKey("case_disposals.id", ondelete="CASCADE"), index=True
    )
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    content_type: Mapped[str] = mapped_column(String(64))
    byte_size: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)


class CaseFileRecord(Base):
    """One link of a case's file chain; ``record_hash`` covers every other field."""

    __tablename__ = "case_file_records"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    """0 for the first record of the case."""
    prev_hash: Mapped[str] = mapped_column(String(64))
    record_hash: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    """A :class:`TransitionAction` value, or ``disposal``."""
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JsonType)
