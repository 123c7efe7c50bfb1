"""Issue 20: the control topics on a closed broker with the generated accounts.

The server's account publishes an edge's config retained under
``civicwatch/v1/control/<edge>/``; only that edge reads it (another edge subscribing gets
nothing), and no edge can overwrite it (its write is dropped: the retained config a late
subscriber gets is still the server's). Each edge publishes its status, health and
snapshots under its own tree, where the server reads them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from civicwatch.services import find_mosquitto
from contracts import topics
from tests.faults.harness import wait_until
from tests.security.broker_support import SERVER, ClosedBroker, closed_broker

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(find_mosquitto() is None, reason="mosquitto is not installed"),
]


@pytest.fixture
def closed(tmp_path: Path) -> Iterator[ClosedBroker]:
    with closed_broker(tmp_path) as broker:
        yield broker


Received = list[tuple[str, bytes, bool]]


def _listen(closed: ClosedBroker, username: str, subscription: str) -> tuple[mqtt.Client, Received]:
    received: Received = []
    client = closed.login(username, client_id=username)
    client.on_message = lambda _c, _u, m: received.append((m.topic, bytes(m.payload), m.retain))
    client.subscribe(subscription, qos=1)
    return client, received


def _close(*clients: mqtt.Client) -> None:
    for client in clients:
        client.disconnect()
        client.loop_stop()


def test_only_the_server_writes_and_only_the_edge_reads_its_control_topics(
    closed: ClosedBroker,
) -> None:
    config = topics.config_topic("edge-a")
    server = closed.login(SERVER, client_id=SERVER)
    server.publish(config, b"server-config", qos=1, retain=True).wait_for_publish(5)
    # edge-a tries to overwrite its own retained config, edge-b tries to write edge-a's
    forger_a = closed.login("edge-a", client_id="edge-a")
    forger_a.publish(config, b"forged-a", qos=1, retain=True).wait_for_publish(5)
    forger_a.publish(topics.model_topic("edge-a"), b"forged", qos=1, retain=True)
    _close(forger_a)
    forger_b = closed.login("edge-b", client_id="edge-b")
    forger_b.publish(config, b"forged-b", qos=1, retain=True).wait_for_publish(5)
    _close(forger_b)
    time.sleep(0.3)
    edge_a, got_a = _listen(closed, "edge-a", topics.control_subscription("edge-a"))
    edge_b, got_b = _listen(closed, "edge-b", topics.control_subscription("edge-a"))
    try:
        wait_until(lambda: bool(got_a), 10, "edge-a's retained config")
        server.publish(topics.snapshot_request_topic("edge-a"), b"req", qos=1).wait_for_publish(5)
        wait_until(lambda: len(got_a) >= 2, 10, "the snapshot request")
        time.sleep(0.5)
    finally:
        _close(edge_a, edge_b, server)
    assert got_a == [
        (config, b"server-config", True),
        (topics.snapshot_request_topic("edge-a"), b"req", False),
    ]
    assert got_b == [], "edge-b read edge-a's control topics"


def test_the_edge_publishes_status_health_and_snapshots_to_the_server(
    closed: ClosedBroker,
) -> None:
    server, got = _listen(closed, SERVER, f"{topics.PREFIX}/edges/#")
    edge = closed.login("edge-a", client_id="edge-a")
    sent = [
        topics.status_topic("edge-a"),
        topics.health_topic("edge-a"),
        topics.snapshot_topic("edge-a", "cam-1"),
    ]
    try:
        time.sleep(0.3)  # the SUBACK
        for topic in sent:
            edge.publish(topic, b"x", qos=1).wait_for_publish(5)
        edge.publish(topics.status_topic("edge-b"), b"forged", qos=1).wait_for_publish(5)
        wait_until(lambda: len(got) >= 3, 10, "the edge's messages")
        time.sleep(0.3)
    finally:
        _close(edge, server)
    assert [topic for topic, _payload, _retain in got] == sent
