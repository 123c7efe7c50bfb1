"""One MQTT settings shape and one paho-mqtt client factory for edge, sensors and server.

:class:`MqttSettings` is how any civicwatch process reaches the broker: the edge's
``mqtt:`` block and the server's ``mqtt`` settings are this model. :func:`create_client`
turns it into a paho-mqtt 2.x client: protocol choice (MQTT 5 or 3.1.1), credentials
from the environment, TLS, the reconnect back-off, the in-flight window, the session
(clean or persistent) and an optional last will, in one place.

paho is imported inside :func:`create_client` only, so this module (and every config
model that uses :class:`MqttSettings`) imports without paho installed.

Example:
    >>> settings = MqttSettings(host="broker.local", port=8883, tls_ca_file=Path("ca.crt"))
    >>> settings.address
    'broker.local:8883 (MQTT 5 over TLS)'
    >>> client = create_client(settings, client_id="civicwatch-server")  # doctest: +SKIP
    >>> client.on_message = handle  # doctest: +SKIP
    >>> client.loop_start()  # doctest: +SKIP
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from contracts.ids import Identifier

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt

ENV_NAME_PATTERN: Final[str] = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
"""What an environment variable name may look like."""

MAX_SESSION_EXPIRY_S: Final[int] = 2**32 - 1
"""MQTT 5's largest session expiry interval ("never expires")."""

SENSORS_USERNAME_ENV: Final[str] = "CIVICWATCH_SENSORS_MQTT_USERNAME"
"""Where an edge's sensor subscriber finds its own broker login (not the publisher's)."""

SENSORS_PASSWORD_ENV: Final[str] = "CIVICWATCH_SENSORS_MQTT_PASSWORD"
"""Where an edge's sensor subscriber finds its password."""

_SECRET_KEYS: Final[dict[str, str]] = {"username": "username_env", "password": "password_env"}


class MqttSettings(BaseModel):
    """How a civicwatch process reaches the MQTT broker.

    Credentials never stand in a config file: ``username_env`` / ``password_env`` name
    the environment variables that hold them. Fields left unset (``client_id``,
    ``session_expiry_s``) take the component's own default.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(
        default="127.0.0.1", min_length=1, max_length=255, description="Broker host or address."
    )
    port: int = Field(
        default=1883, ge=1, le=65535, description="Broker TCP port (8883 is usual for TLS)."
    )
    protocol: Literal["5", "3.1.1"] = Field(
        default="5",
        description=(
            "MQTT protocol version; 3.1.1 only for brokers without v5 (no content type "
            "property: the server then recognises evidence types from the bytes)."
        ),
    )
    keepalive_s: int = Field(default=30, ge=5, le=3600, description="Keep-alive, seconds.")
    client_id: Identifier | None = Field(
        default=None,
        description=(
            "Client id, unique per process on the broker; unset: the component's own "
            "(civicwatch-edge-<edge_id>, its sensor subscriber with -sensors appended, "
            "civicwatch-server)."
        ),
    )
    username_env: str = Field(
        default="CIVICWATCH_MQTT_USERNAME",
        pattern=ENV_NAME_PATTERN,
        description="Environment variable holding the user name; unset or empty: anonymous.",
    )
    password_env: str = Field(
        default="CIVICWATCH_MQTT_PASSWORD",
        pattern=ENV_NAME_PATTERN,
        description="Environment variable holding the password.",
    )
    tls_ca_file: Path | None = Field(
        default=None, description="CA bundle of the broker's certificate; setting it turns TLS on."
    )
    tls_cert_file: Path | None = Field(
        default=None, description="Client certificate for mutual TLS (with tls_key_file)."
    )
    tls_key_file: Path | None = Field(default=None, description="Client private key (mutual TLS).")
    reconnect_max_s: int = Field(
        default=30, ge=1, le=600, description="Longest wait between reconnects (back-off from 1 s)."
    )
    session_expiry_s: int | None = Field(
        default=None,
        ge=0,
        le=MAX_SESSION_EXPIRY_S,
        description=(
            "How long the broker keeps a subscriber's session (its subscriptions and the "
            "messages that arrive meanwhile) while it is away, seconds; 0 ends it with the "
            "connection. Unset: the component's own (server ingest 7 days, edge sensor "
            "subscriber sensors.session_expiry_s, edge publisher 0: its outbox is durable)."
        ),
    )
    max_inflight: int = Field(
        default=50, ge=1, le=1000, description="Messages sent but not yet acknowledged, at most."
    )

    @model_validator(mode="wrap")
    @classmethod
    def _refuse_secrets(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        """Refuse a user name or password given as a value, without echoing it."""
        if isinstance(data, Mapping):
            given = [key for key in _SECRET_KEYS if key in data]
            if given:
                raise ValidationError.from_exception_data(
                    cls.__name__,
                    [
                        InitErrorDetails(
                            type=PydanticCustomError(
                                "env_only",
                                "{key} may only come from the environment: set the variable "
                                "named by {env_field} ({default} unless changed)",
                                {
                                    "key": key,
                                    "env_field": _SECRET_KEYS[key],
                                    "default": cls.model_fields[_SECRET_KEYS[key]].default,
                                },
                            ),
                            loc=(key,),
                            input="<redacted>",
                        )
                        for key in given
                    ],
                )
        return handler(data)

    @model_validator(mode="after")
    def _check_tls(self) -> Self:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together (mutual TLS)")
        if self.tls_cert_file is not None and self.tls_ca_file is None:
            raise ValueError("mutual TLS needs tls_ca_file (which turns TLS on)")
        return self

    @property
    def address(self) -> str:
        """``host:port (MQTT v over TLS)``, for log lines."""
        tls = " over TLS" if self.tls_ca_file is not None else ""
        return f"{self.host}:{self.port} (MQTT {self.protocol}{tls})"

    def client_id_or(self, default: str) -> str:
        """The configured client id, else the component's ``default``."""
        return self.client_id if self.client_id is not None else default

    def session_expiry_or(self, default: int) -> int:
        """The configured session expiry, else the component's ``default`` (seconds)."""
        return self.session_expiry_s if self.session_expiry_s is not None else default

    def credentials(self, environ: Mapping[str, str] | None = None) -> MqttCredentials | None:
        """The user name and password from the environment; ``None`` when no user is set.

        Args:
            environ: Where to look; the process environment by default.
        """
        env = os.environ if environ is None else environ
        username = env.get(self.username_env)
        if not username:
            return None
        return MqttCredentials(username=username, password=env.get(self.password_env) or None)


@dataclass(frozen=True, slots=True)
class MqttCredentials:
    """A broker login; the password never appears in ``repr``."""

    username: str
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class MqttWill:
    """The message the broker publishes for a client that vanishes without a goodbye."""

    topic: str
    payload: bytes
    qos: Literal[0, 1, 2] = 1
    retain: bool = True


def create_client(
    settings: MqttSettings,
    *,
    client_id: str,
    session_expiry_s: int = 0,
    will: MqttWill | None = None,
    manual_ack: bool = False,
    environ: Mapping[str, str] | None = None,
) -> mqtt.Client:
    """A paho-mqtt client set up from ``settings``, ready to connect.

    The client is configured to connect (paho's ``connect_async``) but nothing touches
    the network until the caller, having set its callbacks, calls ``loop_start()``;
    paho then reconnects with back-off from 1 s to ``settings.reconnect_max_s``.

    Args:
        settings: Broker address, protocol, TLS, keep-alive, back-off, in-flight window
            and where the credentials are.
        client_id: The client id to use (resolve a default with
            :meth:`MqttSettings.client_id_or`).
        session_expiry_s: 0 for a session that ends with the connection (clean start);
            more for a persistent one the broker keeps that long while the client is away
            (MQTT 5 session expiry; MQTT 3.1.1 clean session off).
        will: The last will, if any.
        manual_ack: Acknowledge received QoS 1 messages only when the caller calls
            ``client.ack`` (after it has made them durable).
        environ: Where the credentials are read; the process environment by default.

    Returns:
        The client (callbacks unset).

    Raises:
        ValueError: ``session_expiry_s`` out of MQTT's range.
    """
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    if not 0 <= session_expiry_s <= MAX_SESSION_EXPIRY_S:
        raise ValueError(f"session_expiry_s {session_expiry_s} is outside 0..2**32-1")
    v5 = settings.protocol == "5"
    persistent = session_expiry_s > 0
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        # MQTT 3.1.1 keeps a session with "clean session" off; MQTT 5 uses clean_start.
        clean_session=None if v5 else not persistent,
        protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
        reconnect_on_failure=True,
        manual_ack=manual_ack,
    )
    credentials = settings.credentials(environ)
    if credentials is not None:
        client.username_pw_set(credentials.username, credentials.password)
    if settings.tls_ca_file is not None:
        client.tls_set(
            ca_certs=str(settings.tls_ca_file),
            certfile=str(settings.tls_cert_file) if settings.tls_cert_file else None,
            keyfile=str(settings.tls_key_file) if settings.tls_key_file else None,
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
    if will is not None:
        client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
    client.reconnect_delay_set(min_delay=1, max_delay=settings.reconnect_max_s)
    client.max_inflight_messages_set(settings.max_inflight)
    if v5:
        properties = None
        if persistent:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = session_expiry_s
        client.connect_async(
            settings.host,
            settings.port,
            settings.keepalive_s,
            clean_start=not persistent,
            properties=properties,
        )
    else:
        client.connect_async(settings.host, settings.port, settings.keepalive_s)
    return client


__all__ = [
    "ENV_NAME_PATTERN",
    "MAX_SESSION_EXPIRY_S",
    "SENSORS_PASSWORD_ENV",
    "SENSORS_USERNAME_ENV",
    "MqttCredentials",
    "MqttSettings",
    "MqttWill",
    "create_client",
]
