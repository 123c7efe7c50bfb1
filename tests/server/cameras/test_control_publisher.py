"""The control publisher against the real Mosquitto: retained configs reach late subscribers."""

from __future__ import annotations

import queue
import time
import uuid
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from sqlalchemy.orm import Session, sessionmaker

from contracts.control import EdgeConfigMessage, SnapshotRequest
from contracts.mqtt import MqttSettings, create_client
from contracts.topics import config_topic, snapshot_request_topic
from server.cameras import registry, zone_versions
from server.cameras.schemas import CameraCreate
from server.control_publisher import ControlPublisher
from server.core.db import utcnow
from tests.server.cameras.conftest import STREAM, STREET, add_units

ZONES = (
    "camera_id: cam-1\nzones:\n- id: z\n  name: Z\n  kind: no_vending\n"
    "  polygon: [[0.0, 0.5], [1.0, 0.5], [1.0, 1.0]]\n  objects: [stall]\n"
)


@pytest.fixture
def broker_settings(mqtt_broker: Any) -> MqttSettings:
    return MqttSettings(
        host=mqtt_broker.host, port=mqtt_broker.port, client_id=f"srv-{uuid.uuid4().hex[:8]}"
    )


@pytest.fixture
def publisher(
    broker_settings: MqttSettings, session_factory: sessionmaker[Session]
) -> Iterator[ControlPublisher]:
    add_units(session_factory)
    with session_factory() as session, session.begin():
        registry.create_camera(
            session,
            CameraCreate(
                edge_id="edge-1", camera_id="cam-1", name="c", unit_id=STREET, stream_url=STREAM
            ),
            author="op",
            now=utcnow(),
        )
    pub = ControlPublisher(broker_settings, session_factory=session_factory)
    pub.start()
    assert pub.wait_connected(10)
    assert pub.wait_idle(10)
    yield pub
    pub.stop()


def _subscribe(settings: MqttSettings, topic: str) -> tuple[mqtt.Client, queue.Queue[bytes]]:
    """A late subscriber (an edge coming online) collecting payloads of ``topic``."""
    got: queue.Queue[bytes] = queue.Queue()
    client = create_client(settings, client_id=f"edge-{uuid.uuid4().hex[:8]}")
    client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
    client.on_message = lambda _c, _u, message: got.put(bytes(message.payload))
    client.loop_start()
    return client, got


def _stop(client: mqtt.Client) -> None:
    client.disconnect()
    client.loop_stop()


def test_a_late_subscriber_gets_the_newest_config_retained(
    publisher: ControlPublisher,
    broker_settings: MqttSettings,
    session_factory: sessionmaker[Session],
) -> None:
    client, got = _subscribe(broker_settings, config_topic("edge-1"))
    try:
        first = EdgeConfigMessage.from_json(got.get(timeout=10))
        assert first.version == 1
        assert first.cameras[0].stream_url == STREAM  # the edge needs it whole
        assert first.cameras[0].zone_version == 1
        with session_factory() as session, session.begin():
            camera = registry.get_camera(session, camera_pk=1)
            assert camera is not None
            checked = zone_versions.check_zones(camera.camera, text=ZONES)
            zone_versions.save_version(
                session,
                camera=camera.camera,
                checked=checked,
                base_version=1,
                author="op",
                comment="",
                reference_sha256=None,
                now=utcnow(),
            )
        publisher.push_config("edge-1")
        second = EdgeConfigMessage.from_json(got.get(timeout=10))
        assert (second.version, second.cameras[0].zone_version) == (2, 2)
        assert second.cameras[0].zones_yaml == ZONES
    finally:
        _stop(client)
    # An edge that was offline during the save gets version 2 when it returns.
    late, late_got = _subscribe(broker_settings, config_topic("edge-1"))
    try:
        assert EdgeConfigMessage.from_json(late_got.get(timeout=10)).version == 2
    finally:
        _stop(late)


def test_a_reconnecting_publisher_publishes_every_config_again(
    publisher: ControlPublisher,
    broker_settings: MqttSettings,
    session_factory: sessionmaker[Session],
) -> None:
    # Clear the retained message, as a broker that lost its store would have.
    eraser = create_client(broker_settings, client_id=f"erase-{uuid.uuid4().hex[:8]}")
    eraser.loop_start()
    deadline = time.monotonic() + 10
    while not eraser.is_connected() and time.monotonic() < deadline:
        time.sleep(0.05)
    eraser.publish(config_topic("edge-1"), b"", qos=1, retain=True).wait_for_publish(10)
    _stop(eraser)
    publisher.stop()
    again = ControlPublisher(broker_settings, session_factory=session_factory)
    again.start()
    try:
        assert again.wait_connected(10)
        assert again.wait_idle(10)
        client, got = _subscribe(broker_settings, config_topic("edge-1"))
        try:
            assert EdgeConfigMessage.from_json(got.get(timeout=10)).version == 1
        finally:
            _stop(client)
    finally:
        again.stop()


def test_snapshot_requests_go_out_not_retained(
    publisher: ControlPublisher, broker_settings: MqttSettings
) -> None:
    client, got = _subscribe(broker_settings, snapshot_request_topic("edge-1"))
    try:
        request = SnapshotRequest(
            request_id="snap-1", edge_id="edge-1", camera_id="cam-1", requested_at=utcnow()
        )
        time.sleep(0.5)  # subscribed before the request goes out
        publisher.request_snapshot(request)
        assert SnapshotRequest.from_json(got.get(timeout=10)) == request
    finally:
        _stop(client)
