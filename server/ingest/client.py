"""The ingest's MQTT client: subscribes to edge topics and dispatches every message.

Durability: the session outlives the connection (a stable client id, clean start off, a
session expiry), so the broker keeps what arrives while the server is down and delivers
it on reconnect. Messages are acknowledged by hand (PUBACK) only after their transaction
committed, so a server killed mid-ingest gets the message again (every handler is
idempotent). paho's thread only queues each message; a committer thread
(:mod:`server.ingest.committer`) stores what waits in group commits
(:func:`~server.ingest.dispatch.dispatch_batch`) and then acknowledges it.

Replicas: with ``ingest.shared_group`` set, the edges' events, evidence and chain records
come through MQTT 5 shared subscriptions (``$share/<group>/...``), so servers of one
group split them; availability stays a plain subscription (every replica sees it).

A transient database failure is retried, unacknowledged, until it succeeds or the server
stops; a message that keeps failing unexpectedly is copied to the dead-letter directory
before it is acknowledged.

A lost session is loud: when the broker answers a reconnect (or a start with edges
already known) without the persistent session the ingest asked for, whatever was
queued in it is gone; the ingest logs an ERROR, counts it (``/healthz``) and asks every
known edge to re-send what came after its newest stored record. Open gaps in an edge's
chain are asked for every ``gap_check_s`` (:mod:`server.ingest.resend`).

Events held over their edge's rate limit are let in every ``release_check_s``, as far as
the edge's budget allows (:func:`~server.ingest.handlers.events.release_rate_limited`).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from contracts.mqtt import MqttSettings, create_client
from contracts.topics import (
    AVAILABILITY_SUBSCRIPTION,
    CHAIN_SUBSCRIPTION,
    EVENTS_SUBSCRIPTION,
    EVIDENCE_SUBSCRIPTION,
    HEALTH_SUBSCRIPTION,
    SNAPSHOT_SUBSCRIPTION,
    STATUS_SUBSCRIPTION,
)
from server.core.config import Settings
from server.core.db import utcnow
from server.health import StorageGuard
from server.ingest.committer import GroupCommitter, Received
from server.ingest.dead_letter import write_dead_letter
from server.ingest.dispatch import TRANSIENT_CODES, RawMessage, dispatch, dispatch_batch
from server.ingest.handlers import IngestContext
from server.ingest.handlers.events import release_rate_limited
from server.ingest.resend import ResendRequester
from server.ingest.results import IngestMetrics, IngestOutcome

logger = logging.getLogger(__name__)

DEFAULT_CLIENT_ID: Final[str] = "civicwatch-server"
"""The ingest's client id when ``mqtt.client_id`` is unset; unique per server instance."""

DEFAULT_SESSION_EXPIRY_S: Final[int] = 7 * 24 * 3600
"""How long the broker keeps the ingest's session when ``mqtt.session_expiry_s`` is unset."""

UNEXPECTED_ATTEMPTS: Final[int] = 3
"""Tries before a message that fails unexpectedly (not the database) is dead-lettered."""

SUBSCRIPTIONS: Final[tuple[str, ...]] = (
    EVIDENCE_SUBSCRIPTION,
    EVENTS_SUBSCRIPTION,
    CHAIN_SUBSCRIPTION,
    AVAILABILITY_SUBSCRIPTION,
    STATUS_SUBSCRIPTION,
    HEALTH_SUBSCRIPTION,
    SNAPSHOT_SUBSCRIPTION,
)
"""What the ingest subscribes to (QoS 1), evidence first; then the camera tools' topics."""

SHARED_SUBSCRIPTIONS: Final[frozenset[str]] = frozenset(
    {
        EVIDENCE_SUBSCRIPTION,
        EVENTS_SUBSCRIPTION,
        CHAIN_SUBSCRIPTION,
        STATUS_SUBSCRIPTION,
        HEALTH_SUBSCRIPTION,
        SNAPSHOT_SUBSCRIPTION,
    }
)
"""Those replicas split between them; availability (retained) every replica reads."""


def subscriptions(shared_group: str | None) -> list[str]:
    """The topic filters of :data:`SUBSCRIPTIONS`, shared in ``shared_group`` when given."""
    if shared_group is None:
        return list(SUBSCRIPTIONS)
    return [
        f"$share/{shared_group}/{topic}" if topic in SHARED_SUBSCRIPTIONS else topic
        for topic in SUBSCRIPTIONS
    ]


@dataclass(frozen=True, slots=True)
class MqttStatus:
    """The ingest client's connection state, for ``/healthz``."""

    enabled: bool
    connected: bool
    host: str
    port: int
    sessions_lost: int = 0
    resend_requests: int = 0
    reconnects: int = 0
    queue_depth: int = 0


GAP_CHECK_S: Final[float] = 30.0
"""How often open chain gaps are looked for and asked for again."""

RELEASE_CHECK_S: Final[float] = 1.0
"""How often events held over their edge's rate are let in as its budget refills."""


class MqttIngest:
    """A paho-mqtt client that subscribes to edge topics and dispatches every message.

    paho's network thread (``loop_start``) connects, reconnects with backoff, and calls
    :func:`~server.ingest.dispatch.dispatch` for each message in arrival order. The client
    comes from :func:`contracts.mqtt.create_client` with a persistent session (client id
    ``mqtt.client_id`` or :data:`DEFAULT_CLIENT_ID`, session expiry
    ``mqtt.session_expiry_s`` or :data:`DEFAULT_SESSION_EXPIRY_S`) and manual
    acknowledgement: every QoS 1 message is acknowledged only after its transaction
    committed.

    While the database is unavailable the message is retried with backoff on paho's
    thread; the broker may drop the connection meanwhile (no keep-alive), which loses
    nothing: the unacknowledged message and everything after it wait in the session.

    Args:
        settings: The broker connection (``settings.mqtt``) and the dead-letter directory.
        session_factory: Where each message's transaction is opened.
        context: Evidence store and limits for the handlers.
        metrics: Counters shared with ``/healthz``.
        gap_check_s: How often open chain gaps are asked for (re-asked after
            :data:`server.ingest.resend.GAP_REPEAT_S`).
        release_check_s: How often events held over their edge's rate are let in.
    """

    def __init__(
        self,
        *,
        settings: Settings,
        session_factory: sessionmaker[Session],
        context: IngestContext,
        metrics: IngestMetrics,
        gap_check_s: float = GAP_CHECK_S,
        release_check_s: float = RELEASE_CHECK_S,
    ) -> None:
        self._mqtt: MqttSettings = settings.mqtt
        self._shared_group = settings.ingest.shared_group
        if self._shared_group is not None and settings.database_url.startswith("sqlite"):
            raise ValueError(
                f"ingest.shared_group {self._shared_group!r} makes this server one of several "
                "replicas, which need one PostgreSQL database; database_url is SQLite"
            )
        self._committer = GroupCommitter(settings=settings.ingest, commit=self._commit_batch)
        self._connects = 0
        self._dead_letter_dir: Path = settings.dead_letter_dir
        self._session_factory = session_factory
        self._context = context
        self._metrics = metrics
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._client: mqtt.Client | None = None
        self._had_session = False
        self._gap_check_s = gap_check_s
        self._release_check_s = release_check_s
        self._release_failing = False
        self._gap_thread: threading.Thread | None = None
        self.resend = ResendRequester(session_factory)
        self.storage = StorageGuard(settings)  # waits while a disk is full; reports stalls

    @property
    def connected(self) -> bool:
        """Whether the client is connected and subscribed."""
        return self._connected.is_set()

    def status(self) -> MqttStatus:
        """The connection state for ``/healthz``."""
        counts = self.resend.counts()
        return MqttStatus(
            enabled=True,
            connected=self.connected,
            host=self._mqtt.host,
            port=self._mqtt.port,
            sessions_lost=counts.sessions_lost,
            resend_requests=counts.requests,
            reconnects=max(0, self._connects - 1),
            queue_depth=self._committer.depth(),
        )

    def wait_connected(self, timeout_s: float) -> bool:
        """Block until subscribed to the broker or ``timeout_s`` passes (for tests and start-up)."""
        return self._connected.wait(timeout_s)

    def start(self) -> None:
        """Connect in the background; returns at once. Reconnects until :meth:`stop`."""
        cfg = self._mqtt
        client_id = cfg.client_id_or(DEFAULT_CLIENT_ID)
        session_expiry_s = cfg.session_expiry_or(DEFAULT_SESSION_EXPIRY_S)
        client = create_client(
            cfg, client_id=client_id, session_expiry_s=session_expiry_s, manual_ack=True
        )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        self._client = client
        self._stopping.clear()
        logger.info(
            "MQTT ingest connecting to %s as %s (session expiry %d s%s)",
            cfg.address,
            client_id,
            session_expiry_s,
            f", shared group {self._shared_group}" if self._shared_group else "",
        )
        self._committer.start()
        client.loop_start()
        self._gap_thread = threading.Thread(target=self._tick, name="ingest-tick", daemon=True)
        self._gap_thread.start()

    def stop(self) -> None:
        """Disconnect and join paho's thread; a message being retried stays unacknowledged."""
        client = self._client
        if client is None:
            return
        self._stopping.set()
        self._committer.stop()  # the batch in hand is committed and acknowledged
        self._client = None
        client.disconnect()
        client.loop_stop()
        if self._gap_thread is not None:
            self._gap_thread.join(timeout=10)
            self._gap_thread = None
        self._connected.clear()
        logger.info("MQTT ingest stopped")

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: Any,
        flags: Any,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            logger.error(
                "MQTT broker %s refused the connection: %s", self._mqtt.address, reason_code
            )
            return
        present = bool(getattr(flags, "session_present", False))
        self._connects += 1
        logger.info("MQTT ingest connected (%s session)", "resumed" if present else "new")
        client.subscribe([(topic, 1) for topic in subscriptions(self._shared_group)])
        persistent = self._mqtt.session_expiry_or(DEFAULT_SESSION_EXPIRY_S) > 0
        if persistent and not present:
            self._session_lost(client)
        self._had_session = persistent

    def _publish(self, topic: str, payload: bytes) -> None:
        client = self._client
        if client is not None:
            client.publish(topic, payload, qos=1, retain=True)

    def _session_lost(self, client: mqtt.Client) -> None:
        """The broker has no session for us: say so loudly and ask the edges to re-send."""
        try:
            known = self.resend.known_edges()
            if not (self._had_session or known):
                return  # a first start with nothing known: a new session is expected
            asked = self.resend.session_lost(self._publish, now=utcnow())
        except SQLAlchemyError:
            logger.exception("MQTT session lost and the database cannot say which edges to ask")
            return
        logger.error(
            "MQTT broker %s has no session for this server (client id %s): whatever was "
            "queued for it while it was away is lost at the broker; asked %d edge(s) to "
            "re-send from their chains",
            self._mqtt.address,
            self._mqtt.client_id_or(DEFAULT_CLIENT_ID),
            asked,
        )

    def _tick(self) -> None:
        """The periodic work: rate-limited events every ``release_check_s``, gaps less often."""
        period = min(self._gap_check_s, self._release_check_s)
        since_gaps = 0.0
        while not self._stopping.wait(period):
            self._release_rate_limited()
            since_gaps += period
            if since_gaps >= self._gap_check_s:
                since_gaps = 0.0
                self._check_gaps()

    def _release_rate_limited(self) -> None:
        """Let in the events held over their edge's rate as far as its budget allows."""
        try:
            with self._session_factory() as session, session.begin():
                release_rate_limited(session, context=self._context, now=utcnow())
        except SQLAlchemyError as exc:
            if not self._release_failing:  # once per outage, not every tick
                logger.warning("cannot let rate-limited events in (%s); trying again", exc)
            self._release_failing = True
        else:
            self._release_failing = False

    def _check_gaps(self) -> None:
        """While connected: ask for the records missing in chains."""
        if not self.connected:
            return
        try:
            self.resend.gaps(self._publish, now=utcnow())
        except SQLAlchemyError:
            logger.exception("cannot look for chain gaps; trying again later")

    def _on_subscribe(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _mid: int,
        reason_codes: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        failed = [str(code) for code in reason_codes if code.is_failure]
        if failed:
            logger.error("MQTT subscription refused: %s", ", ".join(failed))
            return
        logger.info("MQTT ingest subscribed on %s", self._mqtt.address)
        self._connected.set()

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: Any,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        self._connected.clear()
        if self._client is not None:
            logger.warning(
                "MQTT ingest disconnected from %s (%s); reconnecting",
                self._mqtt.address,
                reason_code,
            )

    def _dead_letter(self, topic: str, payload: bytes, outcome: IngestOutcome, tries: int) -> bool:
        """Copy a message that keeps failing aside; ``True`` when it may be acknowledged."""
        try:
            path = write_dead_letter(self._dead_letter_dir, topic, payload, outcome)
        except OSError:
            logger.exception("cannot dead-letter %s; it stays unacknowledged", topic)
            return False
        logger.error(
            "message on %s failed %d times (%s); copied to %s and acknowledged",
            topic[:200],
            tries,
            outcome.code,
            path,
        )
        return True

    def _commit_batch(self, batch: list[Received]) -> None:
        """Store ``batch`` in one transaction and acknowledge it; else each on its own.

        Runs on the committer's thread. Messages are acknowledged in arrival order, each
        only after its transaction committed; stopping leaves the rest unacknowledged.
        """
        with self.storage.handling():
            outcomes = None
            if len(batch) > 1 and self.storage.wait_for_space(self._stopping):
                outcomes = dispatch_batch(
                    self._session_factory,
                    [RawMessage(item.topic, item.payload, item.properties) for item in batch],
                    context=self._context,
                    metrics=self._metrics,
                    now=utcnow(),
                )
            for item in batch:
                if outcomes is None and not self._ingest_until_final(
                    item.topic, item.payload, item.properties
                ):
                    return  # stopping: this one and the rest stay with the broker
                self._ack(item)
        # the oldest message's wait in the queue and the commit: received to acknowledged
        self._metrics.record_batch(len(batch), time.monotonic() - batch[0].received_s)

    def _ack(self, item: Received) -> None:
        client = self._client
        if client is not None:
            client.ack(item.mid, item.qos)

    def _ingest_until_final(
        self, topic: str, payload: bytes, properties: Properties | None
    ) -> bool:
        """Dispatch until the outcome is final; ``True`` when the message may be acknowledged."""
        attempt = 0
        while True:
            if not self.storage.wait_for_space(self._stopping):
                return False  # stopping while a disk is full; the broker keeps the message
            outcome = dispatch(
                self._session_factory,
                topic,
                payload,
                properties,
                context=self._context,
                metrics=self._metrics,
                now=utcnow(),
            )
            if outcome.code not in TRANSIENT_CODES:
                return True
            attempt += 1
            if outcome.code != "db_unavailable" and attempt >= UNEXPECTED_ATTEMPTS:
                return self._dead_letter(topic, payload, outcome, attempt)
            delay = min(0.25 * 2**attempt, 5.0)
            if self._stopping.wait(delay):
                logger.warning("stopping with %s unacknowledged; the broker keeps it", topic)
                return False

    def _on_message(self, client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:
            logger.warning("rejected MQTT message with a topic that is not UTF-8")
            self._metrics.record(IngestOutcome(topic="?", accepted=False, code="bad_topic"))
            client.ack(message.mid, message.qos)
            return
        # PUBACK only after the commit (the committer's): the transaction is durable then.
        self._committer.put(
            Received(
                topic=topic,
                payload=bytes(message.payload),
                properties=getattr(message, "properties", None),
                mid=message.mid,
                qos=message.qos,
                received_s=time.monotonic(),
            )
        )
