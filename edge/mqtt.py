"""MQTT delivery for the edge: drains the durable outbox to the broker (paho-mqtt 2.x, v5).

One sender thread publishes outbox messages in order with QoS 1 and removes each only
after its PUBACK. An availability topic per edge carries ``online`` (retained) and, as the
last will, ``offline``. The client comes from :func:`contracts.mqtt.create_client`
(credentials from the environment, never from config files).

A message the broker can never take (larger than :data:`contracts.limits.MAX_MESSAGE_BYTES`,
or refused with a permanent reason code) is not retried forever: it goes to the outbox's
dead letter with a signed chain record (:meth:`edge.chain.EdgeChain.dead_letter`) and the
queue moves on. The publisher subscribes to its edge's resend topic and answers the
server's :class:`contracts.resend.ResendRequest` from its chain and outbox
(:func:`edge.resend.resend`).

Other parts of the edge use the same client (one login, one session): they register a
handler for a topic filter with :meth:`Publisher.subscribe` (subscribed again on every
connect, so retained messages come back after a reconnect), and send what needs no outbox
(status, health, snapshots: the next one replaces a lost one) with
:meth:`Publisher.publish_now`.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from contracts import topics
from contracts.limits import MAX_MESSAGE_BYTES
from contracts.mqtt import MqttSettings, MqttWill, create_client
from contracts.resend import ResendRequest
from edge.chain import EdgeChain
from edge.outbox import Outbox, OutboxMessage
from edge.resend import resend

logger = logging.getLogger(__name__)


def default_client_id(edge_id: str) -> str:
    """The edge's client id when its ``mqtt.client_id`` is unset."""
    return f"civicwatch-edge-{edge_id}"


PERMANENT_REFUSALS: frozenset[int] = frozenset({0x87, 0x90, 0x95, 0x99})
"""PUBACK reason codes that no retry can change: not authorized, topic name invalid,
packet too large, payload format invalid. Other refusals are retried."""

MessageHandler = Callable[[str, bytes], None]
"""Called with ``(topic, payload)`` on paho's network thread: hand the work to another thread."""

MqttConfig = MqttSettings
"""The edge's ``mqtt:`` block: :class:`contracts.mqtt.MqttSettings` (kept under its old name)."""


@dataclass
class PublisherStats:
    """Counters for health reporting."""

    sent: int = 0
    acked: int = 0
    refused: int = 0
    dead_lettered: int = 0
    resends: int = 0
    connects: int = 0
    disconnects: int = 0
    last_error: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class Publisher:
    """Sends the outbox to the broker; ``start()`` / ``stop()``."""

    def __init__(
        self,
        *,
        edge_id: str,
        config: MqttSettings,
        outbox: Outbox,
        chain: EdgeChain | None = None,
    ) -> None:
        self.edge_id = edge_id
        self.config = config
        self.outbox = outbox
        self.chain = chain
        self.stats = PublisherStats()
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._acks: queue.SimpleQueue[tuple[int, int]] = queue.SimpleQueue()
        self._requests: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        self._resend_topic = topics.resend_topic(edge_id)
        self._inflight: dict[int, int] = {}  # paho mid -> outbox id
        self._thread = threading.Thread(target=self._run, name=f"mqtt-{edge_id}", daemon=True)
        self._availability = topics.availability_topic(edge_id)
        self._handlers: dict[str, MessageHandler] = {}
        self._subscription_qos: dict[str, int] = {}
        self._handlers_lock = threading.Lock()
        self.client = self._make_client()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def _make_client(self) -> mqtt.Client:
        cfg = self.config
        client = create_client(
            cfg,
            client_id=cfg.client_id_or(default_client_id(self.edge_id)),
            session_expiry_s=cfg.session_expiry_or(0),
            will=MqttWill(self._availability, b"offline"),
        )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        return client

    def subscribe(self, topic_filter: str, handler: MessageHandler, *, qos: int = 1) -> None:
        """Call ``handler`` for every message on ``topic_filter`` (QoS ``qos``).

        Subscribed at once when connected and again on every connect (retained messages are
        delivered each time). ``handler`` runs on paho's network thread: it must return
        quickly (queue the work); an exception in it is logged and the client goes on.

        Raises:
            ValueError: A handler is already registered for ``topic_filter``.
        """
        with self._handlers_lock:
            if topic_filter in self._handlers:
                raise ValueError(f"a handler for {topic_filter!r} is already registered")
            self._handlers[topic_filter] = handler
            self._subscription_qos[topic_filter] = qos
        if self._connected.is_set():
            self.client.subscribe(topic_filter, qos=qos)

    def publish_now(
        self, topic: str, payload: bytes, *, qos: int = 0, retain: bool = False
    ) -> bool:
        """Publish outside the outbox (nothing is kept on disk or retried after a restart).

        With QoS 1 paho keeps the message while the connection is down and sends it on
        reconnect; QoS 0 is dropped when not connected.

        Returns:
            Whether paho took the message.
        """
        if len(payload) > MAX_MESSAGE_BYTES:
            logger.error(
                "edge %s: not publishing %d bytes on %s (limit %d)",
                self.edge_id,
                len(payload),
                topic,
                MAX_MESSAGE_BYTES,
            )
            return False
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        return info.rc in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN) and (
            qos > 0 or info.rc == mqtt.MQTT_ERR_SUCCESS
        )

    def start(self) -> None:
        logger.info(
            "edge %s: connecting to MQTT broker %s (%d messages pending in outbox)",
            self.edge_id,
            self.config.address,
            self.outbox.count(),
        )
        self.client.loop_start()
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop sending; waits up to ``timeout_s`` for acknowledgements of in-flight messages."""
        self._stop.set()
        self._thread.join(timeout=timeout_s)
        if self._connected.is_set():
            info = self.client.publish(self._availability, b"offline", qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=2.0)
            except (RuntimeError, ValueError):
                logger.debug("could not announce offline state")
        self.client.disconnect()
        self.client.loop_stop()

    def wait_until_drained(self, timeout_s: float) -> bool:
        """Block until the outbox is empty (everything acknowledged) or the timeout passes."""
        deadline = threading.Event()
        timer = threading.Timer(timeout_s, deadline.set)
        timer.start()
        try:
            while not deadline.is_set():
                if self.outbox.count() == 0:
                    return True
                deadline.wait(0.05)
            return self.outbox.count() == 0
        finally:
            timer.cancel()

    # paho callbacks run on paho's network thread: they only set flags and queue acks.
    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            with self.stats.lock:
                self.stats.last_error = f"connect refused: {reason_code}"
            logger.error("edge %s: broker refused the connection: %s", self.edge_id, reason_code)
            return
        with self.stats.lock:
            self.stats.connects += 1
        logger.info("edge %s: connected to MQTT broker", self.edge_id)
        client.publish(self._availability, b"online", qos=1, retain=True)
        client.subscribe(self._resend_topic, qos=1)
        with self._handlers_lock:
            subscriptions = list(self._subscription_qos.items())
        for topic_filter, qos in subscriptions:
            client.subscribe(topic_filter, qos=qos)
        self._connected.set()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._connected.clear()
        with self.stats.lock:
            self.stats.disconnects += 1
        if not self._stop.is_set():
            logger.warning(
                "edge %s: disconnected from MQTT broker (%s); messages stay in the outbox",
                self.edge_id,
                reason_code,
            )

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._acks.put((mid, int(reason_code.value) if reason_code.is_failure else 0))

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic == self._resend_topic:
            if message.payload:
                self._requests.put(bytes(message.payload))
            return
        with self._handlers_lock:
            handlers = [
                handler
                for topic_filter, handler in self._handlers.items()
                if mqtt.topic_matches_sub(topic_filter, message.topic)
            ]
        for handler in handlers:
            try:
                handler(message.topic, bytes(message.payload))
            except Exception:
                logger.exception("edge %s: handler for %s failed", self.edge_id, message.topic)

    def _answer_requests(self) -> None:
        """Handle the server's resend requests (on the sender thread, not paho's)."""
        while True:
            try:
                payload = self._requests.get_nowait()
            except queue.Empty:
                return
            try:
                request = ResendRequest.from_json(payload)
            except ValueError as exc:
                logger.warning("edge %s: ignored a malformed resend request: %s", self.edge_id, exc)
                continue
            if self.chain is None:
                logger.error(
                    "edge %s: the server asks to re-send records %d.. but this edge has no "
                    "evidence chain",
                    self.edge_id,
                    request.from_seq,
                )
                continue
            try:
                done = resend(self.chain, request)
            except ValueError as exc:
                logger.warning("edge %s: ignored resend request: %s", self.edge_id, exc)
                continue
            if done is not None:
                with self.stats.lock:
                    self.stats.resends += 1

    def _dead_letter(self, message_id: int, reason: str) -> None:
        """Move a message that can never be sent out of the queue, with a chain record."""
        if self.chain is not None:
            self.chain.dead_letter(message_id, reason)
        else:
            self.outbox.dead_letter(message_id, reason)
            logger.error(
                "edge %s: outbox message %d can never be sent (%s); moved to the dead letter "
                "(no evidence chain to record it)",
                self.edge_id,
                message_id,
                reason,
            )
        with self.stats.lock:
            self.stats.dead_lettered += 1
            self.stats.last_error = reason

    def _drain_acks(self) -> int | None:
        """Apply acknowledgements; returns the lowest outbox id to send again, if any."""
        retry: int | None = None
        while True:
            try:
                mid, refusal = self._acks.get_nowait()
            except queue.Empty:
                return retry
            message_id = self._inflight.pop(mid, None)
            if message_id is None:
                continue  # availability announcements are not in the outbox
            if not refusal:
                self.outbox.ack(message_id)
                with self.stats.lock:
                    self.stats.acked += 1
                continue
            with self.stats.lock:
                self.stats.refused += 1
            if refusal in PERMANENT_REFUSALS:
                self._dead_letter(message_id, f"broker refused it (reason code {refusal:#04x})")
                continue
            logger.error(
                "edge %s: broker refused outbox message %d (reason code %#04x); sending it again",
                self.edge_id,
                message_id,
                refusal,
            )
            retry = message_id if retry is None else min(retry, message_id)

    def _too_large(self, message: OutboxMessage) -> bool:
        if len(message.payload) <= MAX_MESSAGE_BYTES:
            return False
        self._dead_letter(
            message.id,
            f"{len(message.payload)} bytes exceeds the {MAX_MESSAGE_BYTES}-byte message limit",
        )
        return True

    def _run(self) -> None:
        last_id = 0
        while not self._stop.is_set():
            retry = self._drain_acks()
            if retry is not None:
                last_id = min(last_id, retry - 1)
            if not self._connected.wait(0.2):
                continue
            self._answer_requests()
            room = self.config.max_inflight - len(self._inflight)
            if room <= 0:
                self._stop.wait(0.01)
                continue
            batch = self.outbox.pending(after_id=last_id, limit=room)
            if not batch:
                self.outbox.wait_for_new(last_id, 0.1)
                continue
            for message in batch:
                if self._too_large(message):
                    last_id = message.id
                    continue
                props: Properties | None = None
                if self.config.protocol == "5":
                    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
                    props.ContentType = message.content_type
                info = self.client.publish(
                    message.topic, message.payload, qos=message.qos, properties=props
                )
                if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
                    logger.warning(
                        "edge %s: publish of outbox message %d failed (%s); will retry",
                        self.edge_id,
                        message.id,
                        mqtt.error_string(info.rc),
                    )
                    break
                # With NO_CONN paho keeps the QoS 1 message and sends it on reconnect.
                self._inflight[info.mid] = message.id
                last_id = message.id
                with self.stats.lock:
                    self.stats.sent += 1
        self._drain_acks()
