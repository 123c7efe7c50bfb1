"""Prometheus metrics of one server (``GET /metrics``, :mod:`server.api.routes.metrics`).

The counts are the ingest's own (:class:`server.ingest.IngestMetrics`), read at scrape
time, not counted a second time; :class:`ServerMetrics` adds only what those counters do
not keep, the latency from an event's ``sent_at`` at the edge to its commit here. Queue
lengths (events waiting in the quarantine, dead letters) are read when scraped.

Metric names (all ``civicwatch_`` prefixed):

- ``ingest_messages_total{kind, outcome, code}``: messages by topic kind (events, evidence,
  chain, availability, unknown), ``accepted`` / ``rejected`` and outcome code.
- ``ingest_latency_seconds``: histogram, event sent at the edge to committed here.
- ``quarantine_waiting``: events waiting for their chain record.
- ``dead_letters``: messages copied aside after failing repeatedly (files).
- ``mqtt_connected``, ``mqtt_sessions_lost_total``, ``mqtt_resend_requests_total``,
  ``mqtt_reconnects_total``.
- ``ingest_queue_depth``: messages received, waiting for a committer (group commits).
- ``ingest_batch_messages``, ``ingest_commit_seconds``: histograms of the group commits
  (messages per transaction; received to acknowledged, seconds).
- ``webhook_failures_total{outcome}``: failed webhook attempts (``retry`` or ``dead``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Final

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from server.core.db import utcnow
from server.ingest import IngestMetrics, IngestOutcome
from server.tables import QuarantinedEvent

if TYPE_CHECKING:
    from server.state import ServerState

logger = logging.getLogger(__name__)

LATENCY_BUCKETS: Final[tuple[float, ...]] = (
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    1800.0,
)
"""Seconds; an edge that was offline delivers its outbox late, hence the long tail."""

BATCH_BUCKETS: Final[tuple[float, ...]] = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000)
"""Messages per group commit (``ingest.batch_max`` is at most 1000)."""

COMMIT_BUCKETS: Final[tuple[float, ...]] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
"""Seconds per group commit."""


class ServerMetrics(IngestMetrics):
    """The ingest counters plus the event latency histogram (sent at the edge to committed).

    ``record`` is called once per message after its transaction ended, so the time of the
    call is the commit time of an accepted event.
    """

    def __init__(self) -> None:
        super().__init__()
        self.latency = Histogram(
            "civicwatch_ingest_latency_seconds",
            "Seconds from an event's sent_at at the edge to its commit on this server.",
            buckets=LATENCY_BUCKETS,
            registry=None,
        )
        self.batch_messages = Histogram(
            "civicwatch_ingest_batch_messages",
            "Messages committed in one ingest transaction (group commit).",
            buckets=BATCH_BUCKETS,
            registry=None,
        )
        self.commit_seconds = Histogram(
            "civicwatch_ingest_commit_seconds",
            "Seconds one group commit took, its messages taken to acknowledged.",
            buckets=COMMIT_BUCKETS,
            registry=None,
        )
        self.webhook_failures = Counter(
            "civicwatch_webhook_failures",
            "Failed webhook delivery attempts of this replica, by outcome (retry or dead).",
            labelnames=("outcome",),
            registry=None,
        )

    def record(self, outcome: IngestOutcome) -> None:
        super().record(outcome)
        # sent_at is set when the message's commit put an event into its case: the event
        # itself, or the chain record that let it out of the quarantine.
        if outcome.accepted and outcome.sent_at is not None:
            self.latency.observe(max(0.0, (utcnow() - outcome.sent_at).total_seconds()))

    def record_batch(self, size: int, seconds: float) -> None:
        super().record_batch(size, seconds)
        self.batch_messages.observe(size)
        self.commit_seconds.observe(seconds)


def _count_files(directory: Path) -> int:
    """Plain files directly or below ``directory``; 0 when it does not exist."""
    total = 0
    try:
        for _root, _dirs, files in os.walk(directory):
            total += len(files)
    except OSError:
        logger.exception("cannot count the files in %s", directory)
    return total


class ServerCollector(Collector):
    """Everything ``/metrics`` shows, read from a :class:`~server.state.ServerState`."""

    def __init__(self, state: ServerState) -> None:
        self._state = state

    def collect(self) -> Iterator[Metric]:
        state = self._state
        messages = CounterMetricFamily(
            "civicwatch_ingest_messages",
            "MQTT messages ingested, by topic kind, accepted or rejected, and outcome code.",
            labels=("kind", "outcome", "code"),
        )
        for (kind, accepted, code), count in sorted(state.metrics.by_kind().items()):
            outcome = "accepted" if accepted else "rejected"
            messages.add_metric((kind, outcome, code), count)
        yield messages
        if isinstance(state.metrics, ServerMetrics):
            yield from state.metrics.latency.collect()
            yield from state.metrics.batch_messages.collect()
            yield from state.metrics.commit_seconds.collect()
            yield from state.metrics.webhook_failures.collect()
        yield from self._queues()
        yield from self._mqtt()

    def _queues(self) -> Iterator[Metric]:
        state = self._state
        waiting = GaugeMetricFamily(
            "civicwatch_quarantine_waiting",
            "Events waiting in the quarantine for the chain record that names them.",
        )
        try:
            with state.session_factory() as session:
                query = select(func.count()).where(QuarantinedEvent.resolved_at.is_(None))
                waiting.add_metric((), session.scalar(query) or 0)
        except SQLAlchemyError:
            logger.exception("metrics: cannot count the quarantine")
        else:
            yield waiting
        yield GaugeMetricFamily(
            "civicwatch_dead_letters",
            "Messages copied to dead_letter_dir after failing repeatedly (files there).",
            value=_count_files(state.settings.dead_letter_dir),
        )

    def _mqtt(self) -> Iterator[Metric]:
        ingest = self._state.ingest
        status = ingest.status() if ingest is not None else None
        yield GaugeMetricFamily(
            "civicwatch_mqtt_connected",
            "1 while the ingest is connected and subscribed to the broker.",
            value=1 if status is not None and status.connected else 0,
        )
        yield CounterMetricFamily(
            "civicwatch_mqtt_sessions_lost",
            "Reconnects that found the broker had dropped the ingest's persistent session.",
            value=status.sessions_lost if status is not None else 0,
        )
        yield CounterMetricFamily(
            "civicwatch_mqtt_resend_requests",
            "Requests sent to edges to re-send what a lost session or a chain gap lost.",
            value=status.resend_requests if status is not None else 0,
        )
        yield CounterMetricFamily(
            "civicwatch_mqtt_reconnects",
            "Connections of the ingest to the broker after its first.",
            value=status.reconnects if status is not None else 0,
        )
        yield GaugeMetricFamily(
            "civicwatch_ingest_queue_depth",
            "Messages received from the broker and waiting for a committer.",
            value=status.queue_depth if status is not None else 0,
        )


def render(state: ServerState) -> bytes:
    """The Prometheus text exposition of ``state`` now."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServerCollector(state))
    return generate_latest(registry)
