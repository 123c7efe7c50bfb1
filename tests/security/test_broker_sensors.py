"""Issue 17 follow-up: the edge's sensor subscriber and its publisher on a closed broker.

The generated broker binds client ids to accounts (``use_username_as_clientid``). The
sensor subscriber used to log in with the edge's own account, so it and the publisher
took each other's session over on every connect (and the edge account may not read
sensor topics anyway). Against a real Mosquitto with the generated accounts: the
subscriber logs in as ``<edge_id>.sensors``, both clients stay connected for seconds
while the publisher's events are PUBACKed and a reading arrives; the edge account reads
no sensor topic, the sensors account reads only its own sites and publishes nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from civicwatch.services import find_mosquitto, start_mosquitto
from contracts import topics
from edge.chain import EdgeChain, EdgeKey
from edge.mqtt import MqttConfig, Publisher
from edge.outbox import Outbox
from edge.sensors import SensorHub, SensorsConfig, make_sensor_subscriber
from server.mosquitto_auth import DEFAULT_SENSOR_FEED_USER, write_broker_auth
from tests.faults.harness import event_messages, wait_until
from tests.security.broker_support import SERVER, ClosedBroker

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(find_mosquitto() is None, reason="mosquitto is not installed"),
]

EDGE = "edge-a"
SITE, OTHER_SITE = "site-7", "site-9"
STEADY_S = 5.0


@pytest.fixture
def closed(tmp_path: Path) -> Iterator[ClosedBroker]:
    """Mosquitto with the generated accounts; edge-a's sensors may read site-7 only."""
    accounts = write_broker_auth(
        tmp_path / "auth",
        edge_ids=[EDGE, "edge-b"],
        server_username=SERVER,
        sensor_sites={EDGE: [SITE]},
    )
    broker = start_mosquitto(tmp_path / "mosquitto", auth_dir=tmp_path / "auth")
    try:
        yield ClosedBroker(broker, {a.username: a for a in accounts})
    finally:
        broker.stop()


def _reading(site: str, value: float) -> bytes:
    return json.dumps(
        {
            "schema_version": 1,
            "site_id": site,
            "sensor_id": "dust-1",
            "measured_at": datetime.now(UTC).isoformat(),
            "values": [{"quantity": "pm10", "value": value, "unit": "ug/m3"}],
        }
    ).encode()


def _login_env(monkeypatch: pytest.MonkeyPatch, closed: ClosedBroker, name: str) -> tuple[str, str]:
    user_var = f"CW_{name.replace('-', '_').replace('.', '_').upper()}_USER"
    pass_var = user_var.removesuffix("_USER") + "_PASS"
    monkeypatch.setenv(user_var, name)
    monkeypatch.setenv(pass_var, closed.accounts[name].password)
    return user_var, pass_var


def test_publisher_and_sensor_subscriber_of_one_edge_both_stay_connected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, closed: ClosedBroker
) -> None:
    edge_user, edge_pass = _login_env(monkeypatch, closed, EDGE)
    sensors_user, sensors_pass = _login_env(monkeypatch, closed, f"{EDGE}.sensors")
    broker = closed.broker
    mqtt_config = MqttConfig(
        host=broker.host,
        port=broker.port,
        username_env=edge_user,
        password_env=edge_pass,
        reconnect_max_s=1,
    )
    outbox = Outbox(tmp_path / "outbox.db")
    chain = EdgeChain(outbox, EdgeKey.generate(), edge_id=EDGE)
    publisher = Publisher(edge_id=EDGE, config=mqtt_config, outbox=outbox, chain=chain)
    hub = SensorHub()
    inbox = hub.register("cam-1", [SITE])
    sensors = make_sensor_subscriber(
        edge_id=EDGE,
        mqtt_config=mqtt_config,
        config=SensorsConfig(username_env=sensors_user, password_env=sensors_pass),
        hub=hub,
    )
    assert sensors is not None, "the sensor subscriber did not take its own login"
    feed = closed.login(DEFAULT_SENSOR_FEED_USER, client_id="feed")
    publisher.start()
    sensors.start()
    try:
        assert sensors.subscribed.wait(10), "the sensors account could not subscribe"
        wait_until(lambda: publisher.connected, 10, "the publisher's connection")
        _event, messages = event_messages(EDGE, "with-sensors")
        chain.enqueue(messages, [_event])
        assert publisher.wait_until_drained(20), "the broker did not PUBACK the edge's event"
        feed.publish(topics.sensor_topic(SITE, "dust-1"), _reading(SITE, 120.0), qos=1)
        deadline = time.monotonic() + STEADY_S
        while time.monotonic() < deadline:  # a take-over flips one of them every connect
            assert publisher.connected and sensors.client.is_connected()
            time.sleep(0.05)
        assert (publisher.stats.connects, publisher.stats.disconnects) == (1, 0)
        assert (sensors.stats.connects, sensors.stats.disconnects) == (1, 0)
        assert [s.value for s in inbox.drain()] == [120.0]
    finally:
        feed.disconnect()
        feed.loop_stop()
        sensors.stop()
        publisher.stop()
        chain.close()


class Listeners:
    """One client per account (a client id is its account: a second would take it over),
    subscribed to some topics; each collects the topics it receives."""

    def __init__(self, closed: ClosedBroker) -> None:
        self.closed = closed
        self.clients: dict[str, mqtt.Client] = {}
        self.received: dict[str, list[str]] = {}

    def listen(self, username: str, *subscriptions: str) -> mqtt.Client:
        received = self.received.setdefault(username, [])
        client = self.closed.login(username, client_id=username)
        client.on_message = lambda _c, _u, message: received.append(message.topic)
        if subscriptions:
            client.subscribe([(s, 1) for s in subscriptions])
        self.clients[username] = client
        return client

    def close(self) -> None:
        for client in self.clients.values():
            client.disconnect()
            client.loop_stop()


def test_each_account_reads_and_writes_only_its_own_topics(closed: ClosedBroker) -> None:
    sensors = f"{EDGE}.sensors"
    accounts = Listeners(closed)
    try:
        accounts.listen(EDGE, topics.SENSORS_SUBSCRIPTION, topics.sensor_site_subscription(SITE))
        intruder = accounts.listen(
            sensors,
            topics.sensor_site_subscription(SITE),  # its own site
            topics.SENSORS_SUBSCRIPTION,
            topics.sensor_site_subscription(OTHER_SITE),
            f"{topics.PREFIX}/edges/#",
        )
        accounts.listen(SERVER, f"{topics.PREFIX}/edges/#", f"{topics.PREFIX}/sensors/#")
        feed = accounts.listen(DEFAULT_SENSOR_FEED_USER, topics.SENSORS_SUBSCRIPTION)
        time.sleep(0.5)  # the SUBACKs
        forged = topics.event_topic(EDGE, "cam-1")
        intruder.publish(forged, b"{}", qos=1).wait_for_publish(5)
        intruder.publish(topics.sensor_topic(SITE, "fake"), _reading(SITE, 1.0), qos=1)
        feed.publish(forged, b"{}", qos=1).wait_for_publish(5)
        feed.publish(topics.sensor_topic(OTHER_SITE, "dust-1"), _reading(OTHER_SITE, 9.0), qos=1)
        fence = topics.sensor_topic(SITE, "dust-1")
        feed.publish(fence, _reading(SITE, 7.0), qos=1).wait_for_publish(5)
        got = accounts.received
        wait_until(lambda: fence in got[sensors] and fence in got[SERVER], 10, "the reading")
        time.sleep(0.5)
    finally:
        accounts.close()
    assert got[EDGE] == [], "the edge's own account read sensor topics"
    # overlapping subscriptions deliver the reading once for each
    assert set(got[sensors]) == {fence}, "the sensors account read another site, edges or a forgery"
    assert got[DEFAULT_SENSOR_FEED_USER] == [], "the sensor feed read sensor topics"
    assert forged not in got[SERVER], "the sensors or feed account published an event"
    assert topics.sensor_topic(SITE, "fake") not in got[SERVER]
    assert topics.sensor_topic(OTHER_SITE, "dust-1") in got[SERVER]  # the feed may publish
