"""Delivery to a real receiver on loopback: signed, retried after a failure, dead letters,
the retry button, and claims that never let two replicas send one delivery."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.core.config import WebhookSettings
from server.webhooks.delivery import DeliveryConflictError, claim_due, retry_delivery
from server.webhooks.dispatcher import WebhookDispatcher
from server.webhooks.signing import verify
from server.webhooks.subscriptions import create_subscription
from server.webhooks.tables import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEventKind,
)
from tests.server.builders import T0
from tests.server.webhooks.receiver import Receiver, receiver
from tests.server.webhooks.seed import seed_case, seed_units

SETTINGS = WebhookSettings(
    poll_interval_s=0.05,
    timeout_s=5,
    max_attempts=3,
    backoff_base_s=30,
    backoff_max_s=60,
    lease_s=30,
    settle_s=0,
)


class Clock:
    """A settable UTC clock shared by the test and the dispatcher."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


def _subscribe(factory: sessionmaker[Session], url: str) -> str:
    with factory() as session, session.begin():
        seed_units(session, T0)
        row = create_subscription(
            session,
            name="city system",
            url=url,
            kinds=list(WebhookEventKind),
            unit_id=None,
            enabled=True,
            created_by="admin",
            now=T0,
        )
        return row.secret


def _dispatcher(factory: sessionmaker[Session], clock: Clock) -> WebhookDispatcher:
    failures: list[str] = []
    dispatcher = WebhookDispatcher(factory, SETTINGS, on_failure=failures.append, clock=clock)
    dispatcher.failures = failures  # type: ignore[attr-defined]
    dispatcher.run_once()  # start the cursors: what exists now is history
    return dispatcher


def _delivery(factory: sessionmaker[Session]) -> WebhookDelivery:
    with factory() as session:
        rows = session.scalars(select(WebhookDelivery)).all()
        assert len(rows) == 1
        return rows[0]


def test_a_created_case_arrives_signed(
    session_factory: sessionmaker[Session], hook: Receiver
) -> None:
    clock = Clock(T0 + timedelta(hours=1))
    secret = _subscribe(session_factory, hook.url)
    dispatcher = _dispatcher(session_factory, clock)
    try:
        with session_factory() as session, session.begin():
            case_id = seed_case(session, number=1, received_at=clock.now).id
        result = dispatcher.run_once()
    finally:
        dispatcher.stop()
    assert (result.events, result.sent, result.delivered) == (1, 1, 1)
    assert len(hook.calls) == 1
    call = hook.calls[0]
    delivery = _delivery(session_factory)
    assert call.headers["X-Civicwatch-Event"] == "created"
    assert call.headers["X-Civicwatch-Delivery"] == str(delivery.id)
    assert call.headers["Content-Type"] == "application/json; charset=utf-8"
    assert verify(
        secret=secret,
        timestamp=call.headers["X-Civicwatch-Timestamp"],
        body=call.body,
        signature=call.headers["X-Civicwatch-Signature"],
        now=time.time(),
    )
    assert not verify(
        secret="whsec_wrong",
        timestamp=call.headers["X-Civicwatch-Timestamp"],
        body=call.body,
        signature=call.headers["X-Civicwatch-Signature"],
        now=time.time(),
    )
    body = json.loads(call.body)
    assert body["kind"] == "created" and body["case"]["id"] == case_id
    assert body["case"]["unit"]["name"] == "南京东路街道"
    assert secret not in call.body.decode()
    assert delivery.status is DeliveryStatus.DELIVERED
    assert delivery.last_status_code == 200


def test_a_failure_is_retried_after_the_backoff_and_then_delivered(
    session_factory: sessionmaker[Session],
) -> None:
    clock = Clock(T0 + timedelta(hours=1))
    with receiver(codes=[500]) as hook:
        _subscribe(session_factory, hook.url)
        dispatcher = _dispatcher(session_factory, clock)
        try:
            with session_factory() as session, session.begin():
                seed_case(session, number=2, received_at=clock.now)
            first = dispatcher.run_once()
            assert (first.sent, first.failed, first.dead) == (1, 1, 0)
            waiting = _delivery(session_factory)
            assert waiting.status is DeliveryStatus.PENDING and waiting.attempts == 1
            assert waiting.last_status_code == 500
            delay = (waiting.next_attempt_at - clock.now).total_seconds()
            assert 15 <= delay < 30  # base 30 s, jitter in [0.5, 1)
            assert dispatcher.run_once().sent == 0  # not due yet
            clock.now += timedelta(seconds=30)
            second = dispatcher.run_once()
        finally:
            dispatcher.stop()
        assert (second.sent, second.delivered) == (1, 1)
        assert len(hook.calls) == 2
        assert hook.calls[0].body == hook.calls[1].body  # the same bytes each time
        assert (
            hook.calls[0].headers["X-Civicwatch-Delivery"]
            == hook.calls[1].headers["X-Civicwatch-Delivery"]
        )
    assert dispatcher.failures == ["retry"]  # type: ignore[attr-defined]
    with session_factory() as session:
        attempts = session.scalars(select(WebhookAttempt).order_by(WebhookAttempt.id)).all()
        assert [a.status_code for a in attempts] == [500, 200]
        assert attempts[0].error == "HTTP 500 Internal Server Error"
        assert all(a.duration_s >= 0 for a in attempts)


def test_dead_after_max_attempts_then_the_retry_button_delivers(
    session_factory: sessionmaker[Session],
) -> None:
    clock = Clock(T0 + timedelta(hours=1))
    with receiver(codes=[503, 503, 503]) as hook:
        _subscribe(session_factory, hook.url)
        dispatcher = _dispatcher(session_factory, clock)
        try:
            with session_factory() as session, session.begin():
                seed_case(session, number=3, received_at=clock.now)
            for _ in range(3):
                dispatcher.run_once()
                clock.now += timedelta(seconds=61)
            dead = _delivery(session_factory)
            assert dead.status is DeliveryStatus.DEAD and dead.attempts == 3
            assert dispatcher.run_once().sent == 0  # dead letters wait for a human
            with session_factory() as session, session.begin():
                retried = retry_delivery(session, delivery_id=dead.id, now=clock.now)
                assert retried.status is DeliveryStatus.PENDING and retried.attempts == 0
            result = dispatcher.run_once()
        finally:
            dispatcher.stop()
        assert result.delivered == 1
        assert len(hook.calls) == 4
    assert dispatcher.failures == ["retry", "retry", "dead"]  # type: ignore[attr-defined]
    with session_factory() as session, session.begin():
        with pytest.raises(DeliveryConflictError, match="delivered already"):
            retry_delivery(session, delivery_id=dead.id, now=clock.now)
        with pytest.raises(LookupError):
            retry_delivery(session, delivery_id=dead.id + 1000, now=clock.now)


def test_an_unreachable_receiver_is_logged_as_an_error(
    session_factory: sessionmaker[Session],
) -> None:
    clock = Clock(T0 + timedelta(hours=1))
    with receiver() as hook:
        url = hook.url  # closed again below: nothing listens there any more
    _subscribe(session_factory, url)
    dispatcher = _dispatcher(session_factory, clock)
    try:
        with session_factory() as session, session.begin():
            seed_case(session, number=4, received_at=clock.now)
        assert dispatcher.run_once().failed == 1
    finally:
        dispatcher.stop()
    delivery = _delivery(session_factory)
    assert delivery.last_status_code is None
    assert delivery.last_error is not None and "Connection" in delivery.last_error


def test_two_replicas_never_claim_the_same_delivery(
    session_factory: sessionmaker[Session], hook: Receiver
) -> None:
    clock = Clock(T0 + timedelta(hours=1))
    _subscribe(session_factory, hook.url)
    dispatcher = _dispatcher(session_factory, clock)
    dispatcher.stop()
    with session_factory() as session, session.begin():
        for number in range(10, 40):
            seed_case(session, number=number, received_at=clock.now)
    from server.webhooks.outbox import derive_events

    assert derive_events(session_factory, now=clock.now, settle_s=0, batch=100) == 30
    claimed: dict[str, list[int]] = {}
    barrier = threading.Barrier(3)

    def replica(name: str) -> None:
        barrier.wait()
        got: list[int] = []
        for _ in range(10):
            try:
                got += [
                    o.delivery_id
                    for o in claim_due(
                        session_factory, worker=name, now=clock.now, lease_s=60, limit=4
                    )
                ]
            except Exception as exc:  # SQLite: database is locked: try again
                assert "locked" in str(exc)
        claimed[name] = got

    threads = [threading.Thread(target=replica, args=(f"r{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    everything = [d for got in claimed.values() for d in got]
    assert len(everything) == len(set(everything)) == 30  # each once, never twice
    # A lease that ran out is taken over; a live one is not.
    later = claim_due(
        session_factory, worker="r9", now=clock.now + timedelta(seconds=61), lease_s=60, limit=100
    )
    assert len(later) == 30
    assert (
        claim_due(
            session_factory,
            worker="r8",
            now=clock.now + timedelta(seconds=62),
            lease_s=60,
            limit=100,
        )
        == []
    )


def test_old_delivered_deliveries_are_pruned_dead_ones_kept(
    session_factory: sessionmaker[Session],
) -> None:
    from sqlalchemy import func

    from server.webhooks.delivery import prune_delivered
    from server.webhooks.tables import WebhookEvent

    clock = Clock(T0 + timedelta(hours=1))
    with receiver(codes=[500, 500, 500]) as hook:  # the first case's delivery dies
        _subscribe(session_factory, hook.url)
        dispatcher = _dispatcher(session_factory, clock)
        try:
            with session_factory() as session, session.begin():
                seed_case(session, number=50, received_at=clock.now)
            for _ in range(3):
                dispatcher.run_once()
                clock.now += timedelta(seconds=61)
            with session_factory() as session, session.begin():
                seed_case(session, number=51, received_at=clock.now)
            assert dispatcher.run_once().delivered == 1
        finally:
            dispatcher.stop()

    def counts() -> tuple[int, int, int]:
        with session_factory() as session:
            return tuple(  # type: ignore[return-value]
                session.scalar(select(func.count()).select_from(table)) or 0
                for table in (WebhookDelivery, WebhookAttempt, WebhookEvent)
            )

    assert counts() == (2, 4, 2)
    assert prune_delivered(session_factory, before=clock.now - timedelta(days=1)) == 0
    assert prune_delivered(session_factory, before=clock.now + timedelta(days=1)) == 1
    assert counts() == (1, 3, 1)  # the dead letter, its attempts and its event stay
    with session_factory() as session:
        (left,) = session.scalars(select(WebhookDelivery)).all()
        assert left.status is DeliveryStatus.DEAD
