"""ORM tables (SQLAlchemy 2 typed mappings). Schema changes go through Alembic only.

``cases`` holds one row per ``event_id``; ``case_events`` every distinct accepted message;
``evidence`` the stored evidence bytes (files on disk, keyed by sha256); ``case_evidence``
which evidence a case references (the bytes may arrive before or after the event);
``case_reviews`` the audit trail of verdicts; ``edges`` what is known about each edge.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Enum,
    Float,
    ForeignKey,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from contracts.events import EventPhase
from server.core.db import UtcDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JsonType = JSON().with_variant(JSONB(), "postgresql")


class CaseStatus(StrEnum):
    """Where a case stands in review."""

    CANDIDATE = "candidate"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    ESCALATED = "escalated"


class ReviewVerdict(StrEnum):
    """What a reviewer decides about a case."""

    CONFIRM = "confirm"
    REJECT = "reject"
    ESCALATE = "escalate"


class EdgeAvailability(StrEnum):
    """An edge's last announced state (retained ``online`` / last-will ``offline``)."""

    ONLINE = "online"
    OFFLINE = "offline"


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


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime()}  # noqa: RUF012


class Case(Base):
    """One violation candidate, identified by the edge's stable ``event_id``."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(32), unique=True)
    edge_id: Mapped[str] = mapped_column(String(64), index=True)
    camera_id: Mapped[str] = mapped_column(String(64), index=True)
    zone_id: Mapped[str] = mapped_column(String(64), index=True)
    rule: Mapped[str] = mapped_column(String(64))
    violation_type: Mapped[str] = mapped_column(String(32), index=True)
    label: Mapped[str] = mapped_column(String(64))
    confidence: Mapped[float] = mapped_column(Float)
    box_x1: Mapped[float] = mapped_column(Float)
    box_y1: Mapped[float] = mapped_column(Float)
    box_x2: Mapped[float] = mapped_column(Float)
    box_y2: Mapped[float] = mapped_column(Float)
    first_seen: Mapped[datetime] = mapped_column(index=True)
    last_seen: Mapped[datetime]
    dwell_s: Mapped[float] = mapped_column(Float)
    phase: Mapped[EventPhase] = mapped_column(_enum(EventPhase, "event_phase"))
    last_sent_at: Mapped[datetime]
    model_name: Mapped[str] = mapped_column(String(128))
    model_version: Mapped[str] = mapped_column(String(64))
    model_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[CaseStatus] = mapped_column(_enum(CaseStatus, "case_status"), index=True)
    review_reason: Mapped[str | None] = mapped_column(Text)
    reviewer: Mapped[str | None] = mapped_column(String(64))
    reviewed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", order_by="CaseEvent.id", cascade="all, delete-orphan"
    )
    evidence: Mapped[list[CaseEvidence]] = relationship(
        back_populates="case", order_by="CaseEvidence.id", cascade="all, delete-orphan"
    )
    reviews: Mapped[list[CaseReview]] = relationship(
        back_populates="case", order_by="CaseReview.id", cascade="all, delete-orphan"
    )

    @property
    def is_open(self) -> bool:
        """Whether the edge still observes the violation (no ``end`` received yet)."""
        return self.phase != EventPhase.END


class CaseEvent(Base):
    """One distinct accepted event message; a replayed identical message is not stored twice."""

    __tablename__ = "case_events"
    __table_args__ = (UniqueConstraint("case_id", "payload_sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    phase: Mapped[EventPhase] = mapped_column(_enum(EventPhase, "event_phase"))
    sent_at: Mapped[datetime]
    received_at: Mapped[datetime]
    payload_sha256: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JsonType)

    case: Mapped[Case] = relationship(back_populates="events")


class Evidence(Base):
    """Evidence bytes that arrived and passed their hash check; the file is named by hash."""

    __tablename__ = "evidence"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(64))
    byte_size: Mapped[int] = mapped_column(BigInteger)
    edge_id: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime]


class CaseEvidence(Base):
    """A case's reference to one evidence item, as the event described it."""

    __tablename__ = "case_evidence"
    __table_args__ = (UniqueConstraint("case_id", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    content_type: Mapped[str] = mapped_column(String(64))
    byte_size: Mapped[int] = mapped_column(BigInteger)
    captured_at: Mapped[datetime]

    case: Mapped[Case] = relationship(back_populates="evidence")
    stored: Mapped[Evidence | None] = relationship(
        primaryjoin="foreign(CaseEvidence.sha256) == Evidence.sha256",
        viewonly=True,
        lazy="selectin",
    )


class CaseReview(Base):
    """One verdict given on a case (the audit trail; the case holds the latest)."""

    __tablename__ = "case_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    verdict: Mapped[ReviewVerdict] = mapped_column(_enum(ReviewVerdict, "review_verdict"))
    status_before: Mapped[CaseStatus] = mapped_column(_enum(CaseStatus, "status_before"))
    status_after: Mapped[CaseStatus] = mapped_column(_enum(CaseStatus, "status_after"))
    reason: Mapped[str | None] = mapped_column(Text)
    reviewer: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]

    case: Mapped[Case] = relationship(back_populates="reviews")


class Edge(Base):
    """What the server knows about an edge (later also its keys and credentials)."""

    __tablename__ = "edges"

    edge_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    availability: Mapped[EdgeAvailability | None] = mapped_column(
        _enum(EdgeAvailability, "edge_availability")
    )
    availability_at: Mapped[datetime | None]
    first_seen_at: Mapped[datetime]
    last_message_at: Mapped[datetime]
