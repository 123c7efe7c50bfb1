"""Receive IoT sensor readings over MQTT (paho-mqtt 2.x, v5) and route them to the rules.

The edge subscribes with QoS 1 to ``civicwatch/v1/sensors/{site_id}/+`` for every site its
cameras watch (:func:`contracts.topics.sensor_site_subscription`) on the broker it
publishes to, with a client from :func:`contracts.mqtt.create_client` and a persistent
session (readings sent while the edge is briefly away are queued by the broker).

The subscriber logs in with its own account (``sensors.username_env`` /
``sensors.password_env``, ``CIVICWATCH_SENSORS_MQTT_USERNAME`` / ``..._PASSWORD`` by default;
``civicwatch keys mosquitto`` makes it as ``<edge_id>.sensors``, allowed to read sensor
topics only), never with the publisher's: a closed broker binds client ids to accounts, so
two clients of one account take each other's session over on every connect. Against a
broker with accounts and no sensor login (or the publisher's), :func:`make_sensor_subscriber`
logs an ERROR and the edge runs without sensors; against an anonymous broker (the demo's,
loopback only) both connect anonymously. Each message is validated
(:func:`~edge.sensors.samples.parse_sensor_message`); a refused one is logged with the
reason and counted, and the next message is handled as usual. Valid samples go to the
:class:`~edge.sensors.hub.SensorHub`, which hands them to the cameras watching the site.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import BaseModel, ConfigDict, Field

from contracts.mqtt import (
    ENV_NAME_PATTERN,
    SENSORS_PASSWORD_ENV,
    SENSORS_USERNAME_ENV,
    MqttSettings,
    create_client,
)
from contracts.topics import sensor_site_subscription
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
    username_env: str = Field(
        default=SENSORS_USERNAME_ENV,
        pattern=ENV_NAME_PATTERN,
        description="Environment variable holding the sensor subscriber's own broker user "
        "(its <edge_id>.sensors account), never the publisher's; the rest of the broker "
        "connection is the mqtt block's.",
    )
    password_env: str = Field(
        default=SENSORS_PASSWORD_ENV,
        pattern=ENV_NAME_PATTERN,
        description="Environment variable holding the sensor subscriber's password.",
    )


class SensorLoginError(ValueError):
    """The sensor subscriber has no broker login of its own; the message says what to set."""


def sensor_login(
    mqtt_config: MqttSettings, config: SensorsConfig, environ: Mapping[str, str] | None = None
) -> MqttSettings:
    """The publisher's broker settings with the sensor subscriber's own credentials.

    Args:
        mqtt_config: The edge's ``mqtt`` block (the publisher's connection).
        config: The ``sensors`` block, naming the subscriber's credential variables.
        environ: Where the credentials are read; the process environment by default.

    Returns:
        The settings to connect with: the publisher's broker, the subscriber's login
        (anonymous when the publisher is anonymous too: a broker without accounts).

    Raises:
        SensorLoginError: The publisher logs in but the subscriber has no login, or the
            same one (a closed broker would hand one session back and forth between them).
    """
    settings = mqtt_config.model_copy(
        update={"username_env": config.username_env, "password_env": config.password_env}
    )
    own = settings.credentials(environ)
    publisher = mqtt_config.credentials(environ)
    if publisher is None:
        return settings
    if own is None:
        raise SensorLoginError(
            f"the broker has accounts (the publisher logs in as {publisher.username}) but "
            f"{config.username_env} is not set: give the sensor subscriber its own account "
            "(<edge_id>.sensors from 'civicwatch keys mosquitto', credentials file "
            "<edge_id>.sensors.env)"
        )
    if own.username == publisher.username:
        raise SensorLoginError(
            f"{config.username_env} names the publisher's account {publisher.username}: "
            "with client ids bound to accounts the two would take each other's session "
            "over on every connect; use the edge's <edge_id>.sensors account"
        )
    return settings


@dataclass
class SubscriberStats:
    """Counters for health reporting."""

    connects: int = 0
    disconnects: int = 0
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
            ``civicwatch-edge-<edge_id>-sensors`` by default; a broker that binds client
            ids to accounts uses the account's name).
        mqtt_config: The edge's broker connection (the publisher's ``mqtt`` block); the
            login comes from ``config`` (:func:`sensor_login`).
        config: Sensor intake settings.
        hub: Where valid samples go; the subscriber subscribes to the sites it has when it
            connects.
        environ: Where the credentials are read; the process environment by default.

    Raises:
        SensorLoginError: No login of its own against a broker with accounts.
    """

    def __init__(
        self,
        *,
        edge_id: str,
        mqtt_config: MqttSettings,
        config: SensorsConfig,
        hub: SensorHub,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.edge_id = edge_id
        self.mqtt_config = sensor_login(mqtt_config, config, environ)
        self.environ = environ
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
            environ=self.environ,
        )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def start(self) -> None:
        """Connect in the background and subscribe on every (re)connect."""
        credentials = self.mqtt_config.credentials(self.environ)
        logger.info(
            "edge %s: subscribing to sensor readings of site(s) %s on %s as %s",
            self.edge_id,
            ", ".join(sorted(self.hub.sites)) or "(none yet)",
            self.mqtt_config.address,
            credentials.username if credentials is not None else "anonymous",
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
        with self.stats.lock:
            self.stats.connects += 1
        sites = sorted(self.hub.sites)
        if not sites:
            logger.warning("sensor subscriber: no camera watches a site; nothing to subscribe")
            return
        client.subscribe([(sensor_site_subscription(site), 1) for site in sites])

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: Any,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        with self.stats.lock:
            self.stats.disconnects += 1
        if reason.is_failure:
            logger.warning("sensor subscriber: disconnected from the broker (%s)", reason)

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


def make_sensor_subscriber(
    *,
    edge_id: str,
    mqtt_config: MqttSettings,
    config: SensorsConfig,
    hub: SensorHub,
    environ: Mapping[str, str] | None = None,
) -> SensorSubscriber | None:
    """The edge's sensor subscriber, or ``None`` (logged as an ERROR) when it has no login.

    An edge without its own sensor login runs without sensors rather than taking the
    publisher's session over (:func:`sensor_login`).
    """
    try:
        return SensorSubscriber(
            edge_id=edge_id, mqtt_config=mqtt_config, config=config, hub=hub, environ=environ
        )
    except SensorLoginError as exc:
        logger.error("edge %s: running WITHOUT sensor readings: %s", edge_id, exc)
        return None
