"""The outbox publisher against a real Mosquitto, including a broker outage."""

import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from civicwatch.services import MosquittoProcess, start_mosquitto
from edge.mqtt import MqttConfig, Publisher
from edge.outbox import Outbox, PendingMessage


class Collector:
    def __init__(self, host: str, port: int, pattern: str, *, persistent: bool = False) -> None:
        self.received: list[tuple[str, bytes, str | None]] = []
        self.ready = threading.Event()
        self.lock = threading.Lock()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id="collector",
            protocol=mqtt.MQTTv5,
        )
        self.client.on_connect = lambda c, u, f, rc, p: (c.subscribe(pattern, qos=1), None)[1]
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.ready.set()
        self.client.on_message = self._on_message
        props = None
        if persistent:  # the broker keeps our subscription and queue while we are away
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = 300
        self.client.reconnect_delay_set(min_delay=1, max_delay=1)
        self.client.connect(host, port, clean_start=not persistent, properties=props)
        self.client.loop_start()
        assert self.ready.wait(10)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        content_type = getattr(msg.properties, "ContentType", None)
        with self.lock:
            self.received.append((msg.topic, bytes(msg.payload), content_type))

    def wait_for(self, n: int, timeout_s: float) -> list[tuple[str, bytes, str | None]]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= n:
                    return list(self.received)
            time.sleep(0.05)
        with self.lock:
            return list(self.received)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _pending(n: int, start: int = 0) -> list[PendingMessage]:
    return [
        PendingMessage(
            topic=f"civicwatch/v1/edges/e1/events/cam{i}",
            payload=f"{i}".encode(),
            content_type="application/json",
        )
        for i in range(start, start + n)
    ]


def test_delivers_in_order_and_empties_outbox(
    tmp_path: Path, mqtt_broker: MosquittoProcess
) -> None:
    collector = Collector(mqtt_broker.host, mqtt_broker.port, "civicwatch/v1/edges/e1/events/+")
    outbox = Outbox(tmp_path / "outbox.db")
    outbox.put_many(_pending(200))
    pub = Publisher(
        edge_id="e1", config=MqttConfig(host=mqtt_broker.host, port=mqtt_broker.port), outbox=outbox
    )
    pub.start()
    try:
        got = collector.wait_for(200, 30)
        assert [int(p) for _, p, _ in got] == list(range(200))
        assert {ct for _, _, ct in got} == {"application/json"}
        assert pub.wait_until_drained(10)
    finally:
        pub.stop()
        collector.close()


def test_broker_outage_loses_nothing(tmp_path: Path) -> None:
    broker = start_mosquitto(tmp_path / "broker")
    outbox = Outbox(tmp_path / "outbox.db")
    pub = Publisher(
        edge_id="e2",
        config=MqttConfig(host=broker.host, port=broker.port, reconnect_max_s=1),
        outbox=outbox,
    )
    pub.start()
    try:
        collector = Collector(
            broker.host, broker.port, "civicwatch/v1/edges/e1/events/+", persistent=True
        )
        outbox.put_many(_pending(10))
        assert len(collector.wait_for(10, 20)) == 10
        broker.stop()  # a clean stop saves the subscriber's persistent session
        outbox.put_many(_pending(30, start=10))  # produced while the broker is away
        time.sleep(0.5)
        assert outbox.count() >= 30
        broker.restart()
        assert pub.wait_until_drained(30)
        got = collector.wait_for(40, 15)
        # at-least-once: every message of the outage arrives (duplicates are allowed)
        assert {int(p) for _, p, _ in got} >= set(range(40))
        collector.close()
    finally:
        pub.stop()
        broker.stop()
