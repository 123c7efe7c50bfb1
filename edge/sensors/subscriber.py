"""Receive IoT sensor readings over MQTT (paho-mqtt 2.x, v5) and route them to the rules.

The edge subscribes with QoS 1 to ``civicwatch/v1/sensors/+/+``
(``contracts.topics.SENSORS_SUBSCRIPTION``) on the broker it publishes to, with a client from
:func:`contracts.mqtt.create_client` and a persistent session (readings sent while the
edge is briefly away are queued by the broker). Each message is validated
(:func:`~edge.sensors.samples.parse_sensor_message`); a refused one is logged with the
reason and counted, and the next message is handled as usual. Valid samples go to the
:class:`~edge.sensors.hub.SensorHub`, which hands them to the cameras watching the site.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import BaseModel, ConfigDict, Field

from contracts.mqtt import MqttSettings, create_client
from contracts.topics import SENSORS_SUBSCRIPTION
from edge.mqtt import default_client_id
from edge.sensors.hub import SensorHub
from edge.sensors.samples import SensorPayloadError, parse_sensor_message

logger = logging.getLogger(__name__)


class SensorsConfig(BaseModel):
    """IoT sensor intake of an edge."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(
        True,
        description="Subscribe to sensor readings when some camera has a construction_site "
        "zone with a site_id.",
    )
    max_ahead_s: float = Field(
        300.0,
        ge=0.0,
        le=86_400.0,
        allow_inf_nan=False,
        description="A reading timestamped further in the future than this is refused.",
    )
    inbox_capacity: int = Field(
        10_000,
        ge=10,
        le=1_000_000,
        description="Samples kept per camera between two analysed frames; the oldest go "
        "first when it is full.",
    )
    session_expiry_s: int = Field(
        3600,
        ge=0,
        le=7 * 86_400,
        description="How long the broker keeps the subscription and queues readings while "
        "the edge is away (mqtt.session_expiry_s, when set, wins).",
    )


@dataclass
class SubscriberStats:
    """Counters for health reporting."""

    received: int = 0
    accepted: int = 0
    refused: int = 0
    unrouted: int = 0
    last_error: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class SensorSubscriber:
    """Subscribes to sensor readings and publishes valid samples to a hub.

    Args:
        edge_id: This edge (its client id is the publisher's with ``-sensors`` appended:
            ``civicwatch-edge-<edge_id>-sensors`` by default).
        mqtt_config: The broker connection (as the publisher's).
        config: Sensor intake settings.
        hub: Where valid samples go.
    """

    def __init__(
        self, *, edge_id: str, mqtt_config: MqttSettings, config: SensorsConfig, hub: SensorHub
    ) -> None:
        self.edge_id = edge_id
        self.mqtt_config = mqtt_config
        self.config = config
        self.hub = hub
        self.stats = SubscriberStats()
        self.subscribed = threading.Event()
        self.client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        cfg = self.mqtt_config
        client = create_client(
            cfg,
            client_id=f"{cfg.client_id_or(default_client_id(self.edge_id))}-sensors",
            session_expiry_s=cfg.session_expiry_or(self.config.session_expiry_s),
        )
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def start(self) -> None:
        """Connect in the background and subscribe on every (re)connect."""
        logger.info(
            "edge %s: subscribing to sensor readings on %s (%s)",
            self.edge_id,
            self.mqtt_config.address,
            SENSORS_SUBSCRIPTION,
        )
        self.client.loop_start()

    def stop(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: Any,
        _flags: Any,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            logger.error("sensor subscriber: broker refused the connection: %s", reason)
            return
        client.subscribe(SENSORS_SUBSCRIPTION, qos=1)

    def _on_subscribe(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _mid: int,
        reasons: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        if any(r.is_failure for r in reasons):
            logger.error("sensor subscriber: subscription refused: %s", reasons)
            return
        self.subscribed.set()

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.handle(message.topic, bytes(message.payload), datetime.now(UTC))

    def handle(self, topic: str, payload: bytes, received_at: datetime) -> int:
        """Validate one message and route its samples; return how many samples were routed.

        A refused message is logged (with the reason) and counted; it never raises.
        """
        with self.stats.lock:
            self.stats.received += 1
        try:
            samples = parse_sensor_message(
                topic, payload, received_at, max_ahead_s=self.config.max_ahead_s
            )
        except SensorPayloadError as exc:
            with self.stats.lock:
                self.stats.refused += 1
                self.stats.last_error = str(exc)
            logger.warning("%s", exc)
            return 0
        routed = 0
        for sample in samples:
            routed += 1 if self.hub.publish(sample) else 0
        with self.stats.lock:
            self.stats.accepted += 1
            if not routed:
                self.stats.unrouted += 1
        if not routed:
            logger.debug("sensor reading on %s: no camera watches its site", topic)
        return routed
