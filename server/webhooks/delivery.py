"""Claiming due deliveries, recording attempts, dead letters and retries (database only).

A replica claims a delivery with one conditional UPDATE (pending, due, and no live lease),
setting a lease token and ``lease_until``; only the holder of a live lease sends it, so
replicas never send the same delivery at once, and a replica that died mid-send gives the
delivery back when its lease runs out. The first statement of each transaction writes, so
SQLite serialises replicas on its write lock instead of failing on a stale snapshot.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from server.webhooks.payloads import body_bytes
from server.webhooks.policy import RetryPolicy
from server.webhooks.sender import AttemptResult, Outgoing
from server.webhooks.tables import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)

logger = logging.getLogger(__name__)


class DeliveryConflictError(ValueError):
    """The delivery cannot be retried in its current state; the message says why."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What recording an attempt did to the delivery."""

    delivery_id: int
    status: DeliveryStatus
    failed: bool
    """The attempt failed (retry scheduled, or dead)."""


def _free_lease(now: datetime) -> ColumnElement[bool]:
    return or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now)


def claim_due(
    session_factory: sessionmaker[Session],
    *,
    worker: str,
    now: datetime,
    lease_s: float,
    limit: int,
) -> list[Outgoing]:
    """Claim up to ``limit`` due deliveries of enabled subscriptions for this replica."""
    lease = f"{worker[:47]}:{secrets.token_hex(8)}"
    due = (
        select(WebhookDelivery.id)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(
            WebhookDelivery.status == DeliveryStatus.PENDING,
            WebhookDelivery.next_attempt_at <= now,
            _free_lease(now),
            WebhookSubscription.enabled.is_(True),
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    )
    with session_factory() as session, session.begin():
        # One statement: the sub-select picks, the outer conditions are checked again on
        # each row as it is locked (PostgreSQL), so a row another replica took is skipped.
        session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id.in_(due.scalar_subquery()),
                WebhookDelivery.status == DeliveryStatus.PENDING,
                _free_lease(now),
            )
            .values(lease_owner=lease, lease_until=now + timedelta(seconds=lease_s))
            .execution_options(synchronize_session=False)
        )
        claimed = session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.lease_owner == lease)
            .order_by(WebhookDelivery.id)
        ).all()
        return [
            Outgoing(
                delivery_id=row.id,
                lease=lease,
                url=row.subscription.url,
                secret=row.subscription.secret,
                kind=row.event.kind.value,
                body=body_bytes(row.event.payload),
            )
            for row in claimed
        ]


def record_attempt(
    session_factory: sessionmaker[Session],
    *,
    outgoing: Outgoing,
    result: AttemptResult,
    now: datetime,
    worker: str,
    policy: RetryPolicy,
    jitter: float,
) -> Outcome | None:
    """Log the attempt and move the delivery on: delivered, retried later, or dead.

    Returns:
        What happened, or ``None`` when the delivery no longer exists (its subscription was
        removed while the attempt ran).
    """
    try:
        with session_factory() as session, session.begin():
            session.add(
                WebhookAttempt(
                    delivery_id=outgoing.delivery_id,
                    at=now,
                    worker=worker[:64],
                    status_code=result.status_code,
                    error=result.error,
                    duration_s=result.duration_s,
                )
            )
            session.flush()
            delivery = session.get(WebhookDelivery, outgoing.delivery_id)
            if delivery is None:
                return None
            delivery.last_status_code = result.status_code
            delivery.last_error = result.error
            if result.ok:
                delivery.status = DeliveryStatus.DELIVERED
                delivery.delivered_at = now
                delivery.lease_owner = delivery.lease_until = None
                return Outcome(delivery.id, delivery.status, failed=False)
            if delivery.lease_owner != outgoing.lease or delivery.status != DeliveryStatus.PENDING:
                # The lease ran out and another replica (or a retry by hand) took over.
                return Outcome(delivery.id, delivery.status, failed=True)
            delivery.attempts += 1
            delivery.lease_owner = delivery.lease_until = None
            retry_at = policy.after_failure(delivery.attempts, now=now, jitter=jitter)
            if retry_at is None:
                delivery.status = DeliveryStatus.DEAD
                delivery.dead_at = now
                logger.warning(
                    "webhook delivery %d is dead after %d failed attempts (last: %s)",
                    delivery.id,
                    delivery.attempts,
                    result.error,
                )
            else:
                delivery.next_attempt_at = retry_at
            return Outcome(delivery.id, delivery.status, failed=True)
    except IntegrityError:
        logger.info("webhook delivery %d was removed during its attempt", outgoing.delivery_id)
        return None


def retry_delivery(session: Session, *, delivery_id: int, now: datetime) -> WebhookDelivery:
    """Make a dead (or waiting) delivery due now, with a fresh count of attempts.

    Raises:
        LookupError: No such delivery.
        DeliveryConflictError: It was delivered already, or an attempt is in flight.
    """
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise LookupError(f"webhook delivery {delivery_id} not found")
    if delivery.status is DeliveryStatus.DELIVERED:
        raise DeliveryConflictError(f"webhook delivery {delivery_id} was delivered already")
    if delivery.lease_until is not None and delivery.lease_until >= now:
        raise DeliveryConflictError(f"webhook delivery {delivery_id} is being sent right now")
    delivery.status = DeliveryStatus.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = now
    delivery.dead_at = None
    session.flush()
    return delivery


@dataclass(frozen=True, slots=True)
class DeliveryPage:
    """One page of deliveries, newest first, and how many match in all."""

    items: list[WebhookDelivery]
    total: int


def list_deliveries(
    session: Session,
    *,
    status: DeliveryStatus | None,
    subscription_id: int | None,
    case_id: int | None,
    limit: int,
    offset: int,
) -> DeliveryPage:
    """Deliveries matching every given filter (``None``: any), newest first."""
    conditions = []
    if status is not None:
        conditions.append(WebhookDelivery.status == status)
    if subscription_id is not None:
        conditions.append(WebhookDelivery.subscription_id == subscription_id)
    if case_id is not None:
        conditions.append(WebhookDelivery.event.has(WebhookEvent.case_id == case_id))
    total = session.scalar(select(func.count()).select_from(WebhookDelivery).where(*conditions))
    items = session.scalars(
        select(WebhookDelivery)
        .where(*conditions)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return DeliveryPage(items=list(items), total=total or 0)


def attempts_of(session: Session, *, delivery_id: int) -> list[WebhookAttempt]:
    """A delivery's attempts, newest first."""
    return list(
        session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id == delivery_id)
            .order_by(WebhookAttempt.id.desc())
        )
    )


def prune_delivered(session_factory: sessionmaker[Session], *, before: datetime) -> int:
    """Delete deliveries delivered before ``before`` (their attempts go with them), then the
    events no delivery refers to any more that were made before it; returns the deliveries.

    Dead and pending deliveries are kept whatever their age. An event is only deleted long
    after its source row lies below the outbox cursor, so it is never made again.
    """
    with session_factory() as session, session.begin():
        deleted = session.execute(
            delete(WebhookDelivery).where(
                WebhookDelivery.status == DeliveryStatus.DELIVERED,
                WebhookDelivery.delivered_at < before,
            )
        )
        referenced = exists().where(WebhookDelivery.event_id == WebhookEvent.id)
        session.execute(delete(WebhookEvent).where(WebhookEvent.created_at < before, ~referenced))
        count = int(deleted.rowcount)  # type: ignore[attr-defined]
    if count:
        logger.info("webhooks: %d delivered deliveries older than %s deleted", count, before)
    return count
