"""Ingest through a real Mosquitto: evidence and events published with paho become a case."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from contracts import topics
from contracts.events import EvidenceKind
from contracts.mqtt import MqttSettings, MqttWill, create_client
from server.core.config import load_settings
from server.main import create_app
from server.state import ServerState
from tests.server import builders as b

pytestmark = pytest.mark.integration


def wait_until(check: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


@pytest.fixture(params=["5", "3.1.1"])
def protocol(request: pytest.FixtureRequest) -> str:
    """MQTT v5 (content types as properties) and 3.1.1 (as with the embedded demo broker)."""
    return str(request.param)


@pytest.fixture
def edge_client(mqtt_broker: Any, protocol: str) -> Iterator[tuple[mqtt.Client, str]]:
    """A paho client posing as an edge, with an ``offline`` last will."""
    edge_id = f"edge-{uuid.uuid4().hex[:8]}"
    client = create_client(
        MqttSettings(host=mqtt_broker.host, port=mqtt_broker.port, protocol=protocol),
        client_id=f"test-{edge_id}",
        will=MqttWill(topics.availability_topic(edge_id), b"offline"),
    )
    client.loop_start()
    yield client, edge_id
    client.disconnect()
    client.loop_stop()


def publish(
    client: mqtt.Client,
    topic: str,
    payload: bytes,
    content_type: str | None,
    *,
    retain: bool = False,
) -> None:
    v5 = client.protocol == MQTTProtocolVersion.MQTTv5
    properties = b.props(content_type) if v5 else None
    info = client.publish(topic, payload, qos=1, retain=retain, properties=properties)
    info.wait_for_publish(timeout=10)
    assert info.is_published(), f"broker did not acknowledge {topic}"


def test_evidence_and_event_over_mqtt_make_a_case(
    mqtt_broker: Any, edge_client: tuple[mqtt.Client, str], protocol: str, tmp_path: Path
) -> None:
    edge, edge_id = edge_client
    settings = load_settings(
        None,
        database_url=f"sqlite:///{tmp_path / 'cases.db'}",
        evidence_dir=tmp_path / "evidence",
        ingest_require_chain=False,  # the transport is tested here; the chain gate elsewhere
        mqtt=MqttSettings(
            host=mqtt_broker.host,
            port=mqtt_broker.port,
            client_id=f"server-{uuid.uuid4().hex[:8]}",
            protocol=protocol,
        ),
    )
    with TestClient(create_app(settings)) as api:
        state: ServerState = api.app.state.civicwatch  # type: ignore[attr-defined]
        assert state.ingest is not None and state.ingest.wait_connected(15)

        publish(edge, topics.availability_topic(edge_id), b"online", None, retain=True)
        annotated = b.item(b.jpeg(21, (320, 240)), EvidenceKind.ANNOTATED)
        crop = b.item(b.jpeg(22), EvidenceKind.CROP)
        ev = b.event(event_id=uuid.uuid4().hex, edge_id=edge_id, evidence=[annotated.ref, crop.ref])
        # Garbage first: a broken event and tampered evidence must not disturb what follows.
        publish(edge, b.event_topic(ev), ev.to_json()[:40], "application/json")
        publish(
            edge,
            b.evidence_topic(crop, edge_id),
            crop.data[:-1] + b"\x00",
            "image/jpeg",
        )
        for it in (annotated, crop):  # the edge's order: evidence first, then the event
            publish(edge, b.evidence_topic(it, edge_id), it.data, it.ref.content_type)
        publish(edge, b.event_topic(ev), ev.to_json(), "application/json")
        update = b.event(event_id=ev.event_id, edge_id=edge_id, phase="update", seconds=5)
        publish(edge, b.event_topic(update), update.to_json(), "application/json")
        publish(edge, b.event_topic(update), update.to_json(), "application/json")  # replay

        def case_ready() -> dict[str, Any] | None:
            listed = api.get("/api/v1/cases", params={"camera_id": "cam-1"}).json()
            if listed["total"] != 1:
                return None
            detail: dict[str, Any] = api.get(f"/api/v1/cases/{listed['items'][0]['id']}").json()
            ready = len(detail["events"]) == 2 and all(e["available"] for e in detail["evidence"])
            return detail if ready else None

        case = wait_until(case_ready, 15, "the case with both evidence items")
        assert case["event_id"] == ev.event_id and case["edge_id"] == edge_id
        assert case["dwell_s"] == update.dwell_s
        for item in case["evidence"]:
            body = api.get(item["url"])
            assert hashlib.sha256(body.content).hexdigest() == item["sha256"]

        def edge_state() -> str | None:
            edges = api.get("/healthz").json()["edges"]
            return next((e["availability"] for e in edges if e["edge_id"] == edge_id), None)

        assert wait_until(lambda: edge_state() == "online", 10, "edge online")
        health = api.get("/healthz").json()
        assert health["status"] == "ok" and health["mqtt"]["connected"] is True
        assert health["ingest"]["rejected"] == {"bad_json": 1, "hash_mismatch": 1}
        assert health["ingest"]["accepted"]["event_duplicate"] == 1

        # An edge that drops off: the broker publishes its last will.
        if protocol == "5":
            edge.disconnect(reasoncode=ReasonCode(PacketTypes.DISCONNECT, identifier=4))
        else:  # 3.1.1 has no "disconnect with will": drop the TCP connection instead
            sock = edge.socket()
            assert sock is not None
            edge.loop_stop()
            sock.close()
        assert wait_until(lambda: edge_state() == "offline", 10, "edge offline (last will)")
    assert state.ingest is None  # stopped with the app
