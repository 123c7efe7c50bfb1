"""A real server (MQTT ingest on a real Mosquitto) and an attacker's MQTT client.

:func:`trust_server` starts the server app (its lifespan migrates and starts the ingest)
on a private Mosquitto; :class:`Wire` publishes what edges and attackers send and waits
until the ingest has dispatched it. Settings the code under test does not know are left
out, so the same attack also runs against an older server (to measure "before").
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from fastapi.testclient import TestClient

from contracts import topics
from contracts.chain import SignedChainRecord
from contracts.events import ZoneEvent
from contracts.mqtt import MqttSettings, create_client
from server import chain_store
from server.core.config import Settings, load_settings
from server.core.db import utcnow
from server.main import create_app
from server.state import ServerState
from tests.contracts.chain_builders import Signer, WireMessage
from tests.server import builders as b


def settings_for(tmp_path: Path, broker: Any, **values: Any) -> Settings:
    """Server settings on ``broker``; keys this server does not know are dropped."""
    values = {key: value for key, value in values.items() if key in Settings.model_fields}
    return load_settings(
        None,
        database_url=f"sqlite:///{tmp_path / 'cases.db'}",
        evidence_dir=tmp_path / "evidence",
        dead_letter_dir=tmp_path / "dead-letter",
        mqtt=MqttSettings(
            host=broker.host, port=broker.port, client_id=f"server-{uuid.uuid4().hex[:8]}"
        ),
        **values,
    )


@dataclass
class Wire:
    """Publishes over MQTT as an edge (or an attacker) and waits for the ingest."""

    client: mqtt.Client
    api: TestClient

    @property
    def state(self) -> ServerState:
        state: ServerState = self.api.app.state.civicwatch  # type: ignore[attr-defined]
        return state

    def dispatched(self) -> int:
        counts = self.state.metrics.snapshot()
        return sum(counts.accepted.values()) + sum(counts.rejected.values())

    def send(self, messages: list[WireMessage], *, timeout_s: float = 30) -> None:
        """Publish (QoS 1) in order and wait until the ingest has dispatched them all."""
        target = self.dispatched() + len(messages)
        for message in messages:
            info = self.client.publish(
                message.topic, message.payload, qos=1, properties=b.props(message.content_type)
            )
            info.wait_for_publish(timeout=10)
            assert info.is_published(), message.topic
        deadline = time.monotonic() + timeout_s
        while self.dispatched() < target:
            assert time.monotonic() < deadline, f"ingest did not dispatch {len(messages)} messages"
            time.sleep(0.02)

    def settle(self, quiet_s: float = 0.5) -> None:
        """Wait until nothing has been dispatched for ``quiet_s``."""
        seen, since = self.dispatched(), time.monotonic()
        while time.monotonic() - since < quiet_s:
            time.sleep(0.05)
            if self.dispatched() != seen:
                seen, since = self.dispatched(), time.monotonic()

    def register(self, signer: Signer) -> None:
        raw = signer.key.public_key().public_bytes_raw()
        with self.state.session_factory() as session, session.begin():
            chain_store.register_key(
                session,
                edge_id=signer.edge_id,
                public_key_text=base64.b64encode(raw).decode(),
                now=utcnow(),
            )

    def cases(self, **params: Any) -> dict[str, Any]:
        response = self.api.get("/api/v1/cases", params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def case_of(self, event_id: str) -> dict[str, Any] | None:
        for item in self.cases(limit=200)["items"]:
            if item["event_id"] == event_id:
                detail: dict[str, Any] = self.api.get(f"/api/v1/cases/{item['id']}").json()
                return detail
        return None

    def rejected(self, code: str) -> int:
        return self.state.metrics.snapshot().rejected.get(code, 0)


@contextmanager
def trust_server(tmp_path: Path, broker: Any, **values: Any) -> Iterator[Wire]:
    """The server with its MQTT ingest, and a client on the same broker."""
    settings = settings_for(tmp_path, broker, **values)
    client = create_client(
        MqttSettings(host=broker.host, port=broker.port),
        client_id=f"attacker-{uuid.uuid4().hex[:8]}",
    )
    with TestClient(create_app(settings)) as api:
        state: ServerState = api.app.state.civicwatch  # type: ignore[attr-defined]
        assert state.ingest is not None and state.ingest.wait_connected(15)
        client.loop_start()
        deadline = time.monotonic() + 10
        while not client.is_connected():
            assert time.monotonic() < deadline, "the attacker's client could not connect"
            time.sleep(0.02)
        wire = Wire(client=client, api=api)
        wire.settle()  # retained messages of earlier tests on a shared broker come first
        try:
            yield wire
        finally:
            client.disconnect()
            client.loop_stop()


def event_message(event: ZoneEvent) -> WireMessage:
    return WireMessage(
        topics.event_topic(event.edge_id, event.camera_id), event.to_json(), "application/json"
    )


def record_message(signed: SignedChainRecord) -> WireMessage:
    return WireMessage(
        topics.chain_topic(signed.record.edge_id, signed.record.seq),
        signed.to_json(),
        "application/json",
    )
