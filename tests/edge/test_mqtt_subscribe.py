"""Handlers on the edge's one MQTT client (real Mosquitto): retained messages arrive, and
arrive again after a reconnect; messages published outside the outbox go out."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from civicwatch.services import MosquittoProcess
from edge.mqtt import MqttConfig, Publisher
from edge.outbox import Outbox
from tests.faults.harness import wait_until


def _client(broker: MosquittoProcess, client_id: str) -> mqtt.Client:
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
    )
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client


def test_handlers_get_retained_messages_on_every_connect(
    mqtt_broker: MosquittoProcess, tmp_path: Path
) -> None:
    server = _client(mqtt_broker, "sub-test-server")
    server.publish(
        "civicwatch/v1/control/sub-edge/config", b"v1", qos=1, retain=True
    ).wait_for_publish(5)
    config = MqttConfig(host=mqtt_broker.host, port=mqtt_broker.port, reconnect_max_s=1)
    publisher = Publisher(edge_id="sub-edge", config=config, outbox=Outbox(tmp_path / "o.db"))
    got: list[tuple[str, bytes]] = []
    lock = threading.Lock()

    def handler(topic: str, payload: bytes) -> None:
        with lock:
            got.append((topic, payload))

    publisher.subscribe("civicwatch/v1/control/sub-edge/#", handler)
    watcher = _client(mqtt_broker, "sub-test-watcher")
    seen: list[bytes] = []
    watcher.on_message = lambda _c, _u, m: seen.append(bytes(m.payload))
    watcher.subscribe("civicwatch/v1/edges/sub-edge/status", qos=1)
    publisher.start()
    try:
        wait_until(lambda: len(got) == 1, 10, "the retained config")
        server.publish("civicwatch/v1/control/sub-edge/snapshot", b"req", qos=1)
        wait_until(lambda: len(got) == 2, 10, "the snapshot request")
        publisher.client.reconnect()  # a new connection: subscribed again, retained again
        wait_until(lambda: len(got) == 3, 10, "the retained config after a reconnect")
        time.sleep(0.3)
        assert publisher.publish_now(
            "civicwatch/v1/edges/sub-edge/status", b"applied", qos=1, retain=True
        )
        wait_until(lambda: seen == [b"applied"], 10, "the status")
    finally:
        publisher.stop()
        # the broker is the session's: clear the retained messages other tests would receive
        for topic in (
            "civicwatch/v1/control/sub-edge/config",
            "civicwatch/v1/edges/sub-edge/status",
        ):
            server.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
        for client in (server, watcher):
            client.disconnect()
            client.loop_stop()
    assert got == [
        ("civicwatch/v1/control/sub-edge/config", b"v1"),
        ("civicwatch/v1/control/sub-edge/snapshot", b"req"),
        ("civicwatch/v1/control/sub-edge/config", b"v1"),
    ]
    with pytest.raises(ValueError, match="already registered"):
        publisher.subscribe("civicwatch/v1/control/sub-edge/#", handler)
