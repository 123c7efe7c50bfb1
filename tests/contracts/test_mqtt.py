"""MQTT settings validation, and the client factory against a real Mosquitto."""

from __future__ import annotations

import queue
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import MQTTProtocolVersion
from pydantic import ValidationError

from civicwatch.services import MosquittoProcess
from contracts.mqtt import MqttCredentials, MqttSettings, MqttWill, create_client

ROOT = Path(__file__).resolve().parents[2]

# --- settings (no broker) -------------------------------------------------------------


def test_defaults() -> None:
    settings = MqttSettings()
    assert (settings.host, settings.port, settings.protocol, settings.keepalive_s) == (
        "127.0.0.1",
        1883,
        "5",
        30,
    )
    assert settings.client_id is None and settings.session_expiry_s is None
    assert settings.address == "127.0.0.1:1883 (MQTT 5)"
    assert settings.client_id_or("civicwatch-server") == "civicwatch-server"
    assert settings.session_expiry_or(3600) == 3600


def test_set_values_win_over_component_defaults() -> None:
    settings = MqttSettings(client_id="edge-a", session_expiry_s=0, protocol="3.1.1")
    assert settings.client_id_or("civicwatch-server") == "edge-a"
    assert settings.session_expiry_or(3600) == 0
    assert settings.address == "127.0.0.1:1883 (MQTT 3.1.1)"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"hots": "x"}, "hots"),
        ({"port": 0}, "port"),
        ({"port": 65536}, "port"),
        ({"protocol": "4"}, "protocol"),
        ({"protocol": 5}, "protocol"),
        ({"host": ""}, "host"),
        ({"keepalive_s": 4}, "keepalive_s"),
        ({"client_id": "has space"}, "client_id"),
        ({"client_id": "x" * 65}, "client_id"),
        ({"username_env": "NOT-A-NAME"}, "username_env"),
        ({"password_env": ""}, "password_env"),
        ({"reconnect_max_s": 0}, "reconnect_max_s"),
        ({"session_expiry_s": -1}, "session_expiry_s"),
        ({"session_expiry_s": 2**32}, "session_expiry_s"),
        ({"max_inflight": 0}, "max_inflight"),
        ({"password": "s3cret"}, "password may only come from the environment"),
        ({"username": "edge"}, "username may only come from the environment"),
        ({"tls_cert_file": "c.pem"}, "tls_cert_file and tls_key_file go together"),
        ({"tls_cert_file": "c.pem", "tls_key_file": "k.pem"}, "mutual TLS needs tls_ca_file"),
    ],
)
def test_bad_settings_are_refused(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        MqttSettings.model_validate(values)
    assert "s3cret" not in str(info.value)


def test_settings_are_frozen() -> None:
    settings = MqttSettings()
    with pytest.raises(ValidationError):
        settings.port = 1884  # type: ignore[misc]


def test_tls_settings() -> None:
    settings = MqttSettings(
        port=8883,
        tls_ca_file=Path("ca.crt"),
        tls_cert_file=Path("c.pem"),
        tls_key_file=Path("k.pem"),
    )
    assert settings.address == "127.0.0.1:8883 (MQTT 5 over TLS)"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"CIVICWATCH_MQTT_PASSWORD": "pw"}, None),  # a password without a user: anonymous
        ({"CIVICWATCH_MQTT_USERNAME": ""}, None),
        ({"CIVICWATCH_MQTT_USERNAME": "edge"}, MqttCredentials("edge", None)),
        (
            {"CIVICWATCH_MQTT_USERNAME": "edge", "CIVICWATCH_MQTT_PASSWORD": "pw"},
            MqttCredentials("edge", "pw"),
        ),
        (
            {"CIVICWATCH_MQTT_USERNAME": "edge", "CIVICWATCH_MQTT_PASSWORD": ""},
            MqttCredentials("edge"),
        ),
    ],
)
def test_credentials_come_from_the_environment(
    environ: dict[str, str], expected: MqttCredentials | None
) -> None:
    assert MqttSettings().credentials(environ) == expected


def test_credentials_from_named_variables() -> None:
    settings = MqttSettings(username_env="SERVER_USER", password_env="SERVER_PASS")
    environ = {"CIVICWATCH_MQTT_USERNAME": "edge", "SERVER_USER": "srv", "SERVER_PASS": "pw"}
    credentials = settings.credentials(environ)
    assert credentials == MqttCredentials("srv", "pw")
    assert "pw" not in repr(credentials)


def test_importing_the_settings_does_not_import_paho() -> None:
    code = "import sys, contracts.mqtt; sys.exit('paho' in ' '.join(sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=False)
    assert done.returncode == 0, "contracts.mqtt imports paho at import time"


def test_factory_refuses_an_impossible_session_expiry() -> None:
    with pytest.raises(ValueError, match="session_expiry_s"):
        create_client(MqttSettings(), client_id="x", session_expiry_s=-1)


# --- against a real Mosquitto -----------------------------------------------------------


class _Inbox:
    """A subscriber's received messages and its subscription acknowledgement."""

    def __init__(self, client: mqtt.Client, topic: str) -> None:
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.subscribed: queue.Queue[bool] = queue.Queue()
        client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        client.on_subscribe = lambda *_: self.subscribed.put(True)
        client.on_message = lambda _c, _u, message: self.messages.put(message)

    def next(self, timeout_s: float = 10.0) -> mqtt.MQTTMessage:
        return self.messages.get(timeout=timeout_s)


def _started(client: mqtt.Client) -> mqtt.Client:
    """Start ``client``'s network loop and wait until it is connected."""
    connected: queue.Queue[bool] = queue.Queue()
    client.on_connect = lambda *_: connected.put(True)
    client.loop_start()
    assert connected.get(timeout=10), "not connected"
    return client


def _settings(broker: MosquittoProcess, protocol: str) -> MqttSettings:
    return MqttSettings.model_validate(
        {"host": broker.host, "port": broker.port, "protocol": protocol, "reconnect_max_s": 1}
    )


@pytest.mark.integration
@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_connect_publish_qos1_receive(mqtt_broker: MosquittoProcess, protocol: str) -> None:
    settings = _settings(mqtt_broker, protocol)
    run = uuid.uuid4().hex[:8]
    topic = f"civicwatch/v1/test/{run}"
    subscriber = create_client(settings, client_id=f"sub-{run}")
    inbox = _Inbox(subscriber, topic)
    publisher = create_client(settings, client_id=f"pub-{run}")
    expected = MQTTProtocolVersion.MQTTv5 if protocol == "5" else MQTTProtocolVersion.MQTTv311
    assert subscriber.protocol == publisher.protocol == expected
    subscriber.loop_start()
    _started(publisher)
    try:
        assert inbox.subscribed.get(timeout=10)
        info = publisher.publish(topic, b"hello", qos=1)
        info.wait_for_publish(timeout=10)
        assert info.is_published()  # PUBACK received
        message = inbox.next()
        assert (message.topic, message.payload, message.qos) == (topic, b"hello", 1)
    finally:
        for client in (publisher, subscriber):
            client.disconnect()
            client.loop_stop()


@pytest.mark.integration
@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_persistent_session_keeps_what_arrives_while_away(
    mqtt_broker: MosquittoProcess, protocol: str
) -> None:
    settings = _settings(mqtt_broker, protocol)
    run = uuid.uuid4().hex[:8]
    topic = f"civicwatch/v1/test/{run}"
    first = create_client(settings, client_id=f"durable-{run}", session_expiry_s=60)
    inbox = _Inbox(first, topic)
    first.loop_start()
    assert inbox.subscribed.get(timeout=10)
    first.disconnect()
    first.loop_stop()

    publisher = _started(create_client(settings, client_id=f"pub-{run}"))
    info = publisher.publish(topic, b"while away", qos=1)
    info.wait_for_publish(timeout=10)
    publisher.disconnect()
    publisher.loop_stop()

    again = create_client(settings, client_id=f"durable-{run}", session_expiry_s=60)
    later = _Inbox(again, topic)
    again.on_connect = None  # no new subscription: the session must still hold it
    again.loop_start()
    try:
        assert later.next().payload == b"while away"
    finally:
        again.disconnect()
        again.loop_stop()


@pytest.mark.integration
def test_last_will_is_published_when_a_client_vanishes(mqtt_broker: MosquittoProcess) -> None:
    settings = _settings(mqtt_broker, "5")
    run = uuid.uuid4().hex[:8]
    topic = f"civicwatch/v1/test/{run}/availability"
    watcher = create_client(settings, client_id=f"watch-{run}")
    inbox = _Inbox(watcher, topic)
    watcher.loop_start()
    assert inbox.subscribed.get(timeout=10)
    doomed = _started(
        create_client(settings, client_id=f"doomed-{run}", will=MqttWill(topic, b"offline"))
    )
    try:
        sock = doomed.socket()
        assert sock is not None
        doomed.loop_stop()
        sock.close()  # gone without DISCONNECT: the broker sends the will
        assert inbox.next().payload == b"offline"
    finally:
        watcher.disconnect()
        watcher.loop_stop()
