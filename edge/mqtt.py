"""MQTT delivery for the edge: drains the durable outbox to the broker (paho-mqtt 2.x, v5).

One sender thread publishes outbox messages in order with QoS 1 and removes each only
after its PUBACK. An availability topic per edge carries ``online`` (retained) and, as the
last will, ``offline``. The client comes from :func:`contracts.mqtt.create_client`
(credentials from the environment, never from config files).
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from contracts import topics
from contracts.mqtt import MqttSettings, MqttWill, create_client
from edge.outbox import Outbox

logger = logging.getLogger(__name__)


def default_client_id(edge_id: str) -> str:
    """The edge's client id when its ``mqtt.client_id`` is unset."""
    return f"civicwatch-edge-{edge_id}"


MqttConfig = MqttSettings
"""The edge's ``mqtt:`` block: :class:`contracts.mqtt.MqttSettings` (kept under its old name)."""


@dataclass
class PublisherStats:
    """Counters for health reporting."""

    sent: int = 0
    acked: int = 0
    refused: int = 0
    connects: int = 0
    disconnects: int = 0
    last_error: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class Publisher:
    """Sends the outbox to the broker; ``start()`` / ``stop()``."""

    def __init__(self, *, edge_id: str, config: MqttSettings, outbox: Outbox) -> None:
        self.edge_id = edge_id
        self.config = config
        self.outbox = outbox
        self.stats = PublisherStats()
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._acks: queue.SimpleQueue[tuple[int, bool]] = queue.SimpleQueue()
        self._inflight: dict[int, int] = {}  # paho mid -> outbox id
        self._thread = threading.Thread(target=self._run, name=f"mqtt-{edge_id}", daemon=True)
        self._availability = topics.availability_topic(edge_id)
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
        return client

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
        self._acks.put((mid, not reason_code.is_failure))

    def _drain_acks(self) -> None:
        while True:
            try:
                mid, ok = self._acks.get_nowait()
            except queue.Empty:
                return
            message_id = self._inflight.pop(mid, None)
            if message_id is None:
                continue  # availability announcements are not in the outbox
            if ok:
                self.outbox.ack(message_id)
                with self.stats.lock:
                    self.stats.acked += 1
            else:
                # Kept in the outbox: it is retried on the next start, never silently lost.
                with self.stats.lock:
                    self.stats.refused += 1
                logger.error(
                    "edge %s: broker refused outbox message %d; kept for retry",
                    self.edge_id,
                    message_id,
                )

    def _run(self) -> None:
        last_id = 0
        while not self._stop.is_set():
            self._drain_acks()
            if not self._connected.wait(0.2):
                continue
            room = self.config.max_inflight - len(self._inflight)
            if room <= 0:
                self._stop.wait(0.01)
                continue
            batch = self.outbox.pending(after_id=last_id, limit=room)
            if not batch:
                self.outbox.wait_for_new(last_id, 0.1)
                continue
            for message in batch:
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
