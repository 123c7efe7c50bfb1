"""ORM tables (SQLAlchemy 2 typed mappings). Schema changes go through Alembic only.

``cases`` holds one row per ``event_id``; ``case_events`` every distinct accepted message;
``evidence`` the stored evidence bytes (files on disk, keyed by sha256); ``case_evidence``
which evidence a case references (the bytes may arrive before or after the event);
``case_reviews`` the audit trail of verdicts; ``edges`` what is known about each edge.

The evidence chain (:mod:`contracts.chain`): ``edge_keys`` is the registry of edge
public keys; ``chain_records`` every signed record received (a fork keeps both
versions); ``chain_evidence`` which evidence hashes a record lists or drops;
``chain_issues`` gaps, forks, bad signatures and unknown keys, by edge, sequence
number and event (a case is flagged through its ``event_id``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
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
    """Where a case stands in review and in its lifecycle (:mod:`server.lifecycle`)."""

    CANDIDATE = "candidate"
    CONFIRMED = "confirmed"  # 立案
    REJECTED = "rejected"
    ESCALATED = "escalated"
    DISPATCHED = "dispatched"  # sent to a field team, with a deadline
    DISPOSED = "disposed"  # the team reported it dealt with the case (photos + note)
    VERIFIED = "verified"  # the disposal was checked and accepted
    CLOSED = "closed"


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
    # A legal hold keeps the case and its evidence from retention (server.retention).
    legal_hold_at: Mapped[datetime | None] = mapped_column(default=None)
    legal_hold_by: Mapped[str | None] = mapped_column(String(64), default=None)
    legal_hold_reason: Mapped[str | None] = mapped_column(Text, default=None)
    # The lifecycle (server.lifecycle); the case's own unit is its camera's (server.org).
    assigned_unit_id: Mapped[str | None] = mapped_column(
        ForeignKey("units.id"), index=True, default=None
    )
    """The unit that handles the case when escalated above its camera's (``None``: the camera's)."""
    team_unit_id: Mapped[str | None] = mapped_column(
        ForeignKey("units.id"), index=True, default=None
    )
    """The field team the case is (or was last) dispatched to."""
    deadline_at: Mapped[datetime | None] = mapped_column(default=None)
    overdue_at: Mapped[datetime | None] = mapped_column(default=None)
    """When the overdue loop found the deadline passed (``None``: not overdue)."""
    closed_at: Mapped[datetime | None] = mapped_column(default=None)

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
    chain_status: Mapped[str | None] = mapped_column(String(16))
    """The case's chain status when the verdict was given."""
    chain_override: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """The reviewer confirmed a case whose chain was not verified, explicitly."""

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


class EdgeKey(Base):
    """A registered edge public key (Ed25519, raw bytes in base64); records name it by id."""

    __tablename__ = "edge_keys"

    key_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    edge_id: Mapped[str] = mapped_column(String(64), index=True)
    public_key: Mapped[str] = mapped_column(String(64))
    registered_at: Mapped[datetime]


class ChainEvidenceRole(StrEnum):
    """How a chain record mentions an evidence hash."""

    LISTED = "listed"  # the event lists it
    DROPPED = "dropped"  # the edge discarded it unsent (outbox budget)


class ChainIssueKind(StrEnum):
    """What is wrong with an edge's chain."""

    GAP = "gap"  # the previous record has not arrived
    FORK = "fork"  # two different records with one sequence number
    BROKEN_LINK = "broken_link"  # prev_hash is not the previous record's hash
    BAD_SIGNATURE = "bad_signature"  # the signature does not verify with the registered key
    UNKNOWN_KEY = "unknown_key"  # no registered key with the record's key id


class ChainRecordRow(Base):
    """One signed chain record as received; ``signed_json`` is its canonical wire form."""

    __tablename__ = "chain_records"
    __table_args__ = (UniqueConstraint("edge_id", "seq", "record_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    edge_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    record_hash: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str | None] = mapped_column(String(32), index=True)
    phase: Mapped[str | None] = mapped_column(String(16))
    event_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    key_id: Mapped[str] = mapped_column(String(16))
    verified: Mapped[bool] = mapped_column(Boolean)
    signed_json: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime]
    received_at: Mapped[datetime]

    evidence: Mapped[list[ChainEvidence]] = relationship(
        back_populates="record", order_by="ChainEvidence.id", cascade="all, delete-orphan"
    )


class ChainEvidence(Base):
    """An evidence hash a chain record lists (event) or drops (drop record)."""

    __tablename__ = "chain_evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(
        ForeignKey("chain_records.id", ondelete="CASCADE"), index=True
    )
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[ChainEvidenceRole] = mapped_column(_enum(ChainEvidenceRole, "chain_role"))

    record: Mapped[ChainRecordRow] = relationship(back_populates="evidence")


class ChainIssue(Base):
    """A problem found in an edge's chain; a gap is resolved when the record arrives."""

    __tablename__ = "chain_issues"

    id: Mapped[int] = mapped_column(primary_key=True)
    edge_id: Mapped[str] = mapped_column(String(64), index=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[ChainIssueKind] = mapped_column(_enum(ChainIssueKind, "chain_issue_kind"))
    event_id: Mapped[str | None] = mapped_column(String(32), index=True)
    detail: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]


class QuarantineOutcome(StrEnum):
    """How a quarantined event left the quarantine."""

    ADMITTED = "admitted"  # its verified chain record arrived; it went to its case
    EXPIRED = "expired"  # it waited longer than ``quarantine_max_age_s``


class QuarantinedEvent(Base):
    """An event message waiting for the verified chain record that names it.

    An event becomes part of a case only when a verified record of its own edge names its
    digest; until then it waits here with the reason, and ages out (the row stays, with
    its outcome, as the audit of what was refused).
    """

    __tablename__ = "quarantined_events"
    __table_args__ = (UniqueConstraint("edge_id", "payload_sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    edge_id: Mapped[str] = mapped_column(String(64), index=True)
    event_id: Mapped[str] = mapped_column(String(32), index=True)
    camera_id: Mapped[str] = mapped_column(String(64))
    phase: Mapped[str] = mapped_column(String(16))
    payload_sha256: Mapped[str] = mapped_column(String(64), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonType)
    reason: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None] = mapped_column(index=True)
    outcome: Mapped[QuarantineOutcome | None] = mapped_column(
        _enum(QuarantineOutcome, "quarantine_outcome")
    )


class UserRole(StrEnum):
    """What a user may do over HTTP (see :mod:`server.auth`)."""

    OPERATOR = "operator"  # sees cases and evidence
    REVIEWER = "reviewer"  # also gives verdicts
    ADMIN = "admin"  # everything
    EDGE = "edge"  # a device account: no HTTP access to cases (edges speak MQTT)
    DISPATCHER = "dispatcher"  # dispatches cases to field teams, verifies and closes them
    TEAM = "team"  # a field team: sees the cases dispatched to it, reports disposals


class User(Base):
    """A person (or device) that logs in; the password is stored as an argon2id hash."""

    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[UserRole] = mapped_column(_enum(UserRole, "user_role"))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]
    failed_logins: Mapped[int] = mapped_column(default=0)  # consecutive; reset by a login
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"), index=True, default=None)
    """The account's unit (:mod:`server.org`): it acts on its subtree. ``None``: city-wide."""


class ApiToken(Base):
    """A login session: only the sha256 of the bearer token is stored."""

    __tablename__ = "api_tokens"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(
        ForeignKey("users.username", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class HoldAction(StrEnum):
    """What was done to a case's legal hold."""

    SET = "set"
    CLEAR = "clear"


class LegalHoldLog(Base):
    """The audit trail of legal holds (kept when the case itself is deleted later)."""

    __tablename__ = "legal_hold_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(index=True)
    event_id: Mapped[str] = mapped_column(String(32))
    action: Mapped[HoldAction] = mapped_column(_enum(HoldAction, "hold_action"))
    actor: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class RetentionRun(Base):
    """One application of the retention policy: what it deleted (the audit of deletions)."""

    __tablename__ = "retention_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime]
    cases_deleted: Mapped[int]
    evidence_deleted: Mapped[int]
    bytes_freed: Mapped[int] = mapped_column(BigInteger)
    held_skipped: Mapped[int]
    detail: Mapped[str] = mapped_column(Text)


class HealthProbe(Base):
    """One row rewritten by every health check: proves the database takes writes."""

    __tablename__ = "health_probe"

    id: Mapped[int] = mapped_column(primary_key=True)
    checked_at: Mapped[datetime]
