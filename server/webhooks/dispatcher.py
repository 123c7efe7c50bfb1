"""The webhook dispatcher: a thread that derives events, claims due deliveries and sends them.

It runs beside the ingest and the API (its own thread and a small pool of sender threads),
so a slow or dead receiver never holds up either. Every replica of the server may run one:
events are unique per source row and deliveries are claimed under a lease.

Example:
    >>> dispatcher = WebhookDispatcher(session_factory, settings.webhooks)  # doctest: +SKIP
    >>> dispatcher.start(); ...; dispatcher.stop()
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from server.core.config import WebhookSettings
from server.core.db import utcnow
from server.webhooks.delivery import Outcome, claim_due, prune_delivered, record_attempt
from server.webhooks.outbox import derive_events
from server.webhooks.policy import RetryPolicy
from server.webhooks.sender import Outgoing, host_of, send
from server.webhooks.tables import DeliveryStatus

logger = logging.getLogger(__name__)

PRUNE_EVERY: Final[timedelta] = timedelta(hours=1)
"""How often old delivered deliveries are deleted (``webhooks.keep_days``)."""


@dataclass(frozen=True, slots=True)
class RoundResult:
    """What one round did."""

    events: int
    sent: int
    delivered: int
    failed: int
    dead: int


def worker_name() -> str:
    """This replica's name in leases and attempt logs: host and process id."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}"


class WebhookDispatcher:
    """Derives, claims and sends webhook deliveries, in rounds, until stopped.

    Args:
        session_factory: Sessions on the server's database.
        settings: The ``webhooks`` settings.
        on_failure: Called once per failed attempt with ``retry`` or ``dead`` (a metric).
        clock: The current UTC time (tests pass their own).
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        settings: WebhookSettings,
        *,
        on_failure: Callable[[str], None] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._factory = session_factory
        self._settings = settings
        self._policy = RetryPolicy.from_settings(settings)
        self._on_failure = on_failure
        self._clock = clock
        self._random = random.Random()
        self._worker = worker_name()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pruned_at: datetime | None = None
        self._pool = ThreadPoolExecutor(
            max_workers=settings.concurrency, thread_name_prefix="webhook-send"
        )

    def run_once(self) -> RoundResult:
        """One round: derive new events, then send every due delivery claimed (and wait)."""
        settings = self._settings
        events = derive_events(
            self._factory, now=self._clock(), settle_s=settings.settle_s, batch=settings.batch
        )
        claimed = claim_due(
            self._factory,
            worker=self._worker,
            now=self._clock(),
            lease_s=settings.lease_s,
            limit=settings.batch,
        )
        outcomes = list(self._pool.map(self._deliver, claimed))
        self._prune()
        done = [outcome for outcome in outcomes if outcome is not None]
        return RoundResult(
            events=events,
            sent=len(claimed),
            delivered=sum(1 for o in done if o.status is DeliveryStatus.DELIVERED),
            failed=sum(1 for o in done if o.failed),
            dead=sum(1 for o in done if o.failed and o.status is DeliveryStatus.DEAD),
        )

    def _prune(self) -> None:
        """Delete old delivered deliveries, at most once an hour."""
        now = self._clock()
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        prune_delivered(self._factory, before=now - timedelta(days=self._settings.keep_days))

    def _deliver(self, outgoing: Outgoing) -> Outcome | None:
        result = send(outgoing, timeout_s=self._settings.timeout_s)
        outcome = record_attempt(
            self._factory,
            outgoing=outgoing,
            result=result,
            now=self._clock(),
            worker=self._worker,
            policy=self._policy,
            jitter=self._random.random(),
        )
        if outcome is not None and outcome.failed:
            logger.info(
                "webhook delivery %d to %s failed (%s); %s",
                outgoing.delivery_id,
                host_of(outgoing.url),
                result.error,
                "dead" if outcome.status is DeliveryStatus.DEAD else "will retry",
            )
            if self._on_failure is not None:
                self._on_failure("dead" if outcome.status is DeliveryStatus.DEAD else "retry")
        return outcome

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                result = self.run_once()
            except OperationalError as exc:  # SQLite busy, PostgreSQL away: try next round
                logger.warning("webhook round skipped: database: %s", type(exc.orig).__name__)
            except Exception:
                logger.exception(
                    "webhook round failed; next in %.1f s", self._settings.poll_interval_s
                )
            else:
                if result.sent and not self._stop.is_set():
                    continue  # more may be due at once
            self._stop.wait(self._settings.poll_interval_s)

    def start(self) -> None:
        """Run rounds every ``poll_interval_s`` in a daemon thread."""
        if self._thread is not None:
            raise RuntimeError("the webhook dispatcher is already running")
        self._thread = threading.Thread(target=self._loop, name="webhook-dispatcher", daemon=True)
        self._thread.start()
        logger.info("webhook dispatcher %s started", self._worker)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop after the current round (an attempt in flight ends within ``timeout_s``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        self._pool.shutdown(wait=True, cancel_futures=True)
