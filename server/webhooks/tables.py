"""Tables of the webhooks: subscriptions, the outbox (events and deliveries) and attempts.

``webhook_events`` holds one row per thing that happened and may be announced (a case
created, a transition, a camera alarm), derived from the committed source row and unique on
``(source, source_id)``, with the body frozen at that moment; ``webhook_cursors`` how far each
source has been read. ``webhook_deliveries`` is one row per event and subscription (unique:
nothing is sent twice per subscription), claimed by one replica at a time through
``lease_owner`` / ``lease_until``; ``webhook_attempts`` logs every try.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.tables import Base, JsonType


class WebhookEventKind(StrEnum):
    """What a webhook announces (``X-Civicwatch-Event``)."""

    CREATED = "created"  # a new candidate case
    CONFIRMED = "confirmed"  # 立案
    DISPATCHED = "dispatched"  # sent (or sent back, or reopened) to a field team
    OVERDUE = "overdue"  # the deadline passed
    CLOSED = "closed"
    CAMERA_ALARM = "camera_alarm"  # a camera raised an alarm (offline, tampered, ...)


class EventSource(StrEnum):
    """The append-only table an event was derived from (``source_id`` is its ``id``)."""

    CASES = "cases"
    CASE_TRANSITIONS = "case_transitions"
    CAMERA_ALARMS = "camera_alarms"


class DeliveryStatus(StrEnum):
    """Where a delivery stands."""

    PENDING = "pending"  # waiting for its (next) attempt
    DELIVERED = "delivered"  # the receiver answered 2xx
    DEAD = "dead"  # max_attempts failed: in the dead letters until retried by hand


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


class WebhookSubscription(Base):
    """A receiver: where to send which kinds of event, signed with ``secret``.

    The secret is needed in the clear to sign; it is shown once, when the subscription is
    created, and never logged or returned again.
    """

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[str] = mapped_column(String(128))
    kinds: Mapped[list[str]] = mapped_column(JsonType)
    """The :class:`WebhookEventKind` values sent to this receiver."""
    unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"), default=None)
    """Only cases in this unit's subtree (``None``: every case)."""
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class WebhookCursor(Base):
    """How far a source table has been turned into events: every row up to ``last_id`` has."""

    __tablename__ = "webhook_cursors"

    source: Mapped[EventSource] = mapped_column(
        _enum(EventSource, "event_source"), primary_key=True
    )
    last_id: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]


class WebhookEvent(Base):
    """One announceable fact, derived once from its committed source row; the body is frozen."""

    __tablename__ = "webhook_events"
    __table_args__ = (UniqueConstraint("source", "source_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[WebhookEventKind] = mapped_column(_enum(WebhookEventKind, "webhook_kind"))
    source: Mapped[EventSource] = mapped_column(_enum(EventSource, "event_source"))
    source_id: Mapped[int] = mapped_column(BigInteger)
    case_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    """The case it concerns (no foreign key: retention may delete the case, not the log)."""
    occurred_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]] = mapped_column(JsonType)
    created_at: Mapped[datetime]


class WebhookDelivery(Base):
    """One event to one subscription; ``id`` is the receiver's idempotency key."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("subscription_id", "event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_events.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[DeliveryStatus] = mapped_column(
        _enum(DeliveryStatus, "delivery_status"), index=True
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    """Failed attempts since it was created or last retried by hand."""
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    lease_owner: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    dead_at: Mapped[datetime | None] = mapped_column(default=None)
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)

    event: Mapped[WebhookEvent] = relationship(lazy="joined")
    subscription: Mapped[WebhookSubscription] = relationship(lazy="joined")


class WebhookAttempt(Base):
    """One try of a delivery: what the receiver answered, or why there was no answer."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime]
    worker: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_s: Mapped[float] = mapped_column(Float)
