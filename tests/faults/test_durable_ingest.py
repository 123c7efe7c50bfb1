"""The ingest's durability against a real broker: persistent session, acks after commit.

* A message that arrives while the database cannot be opened is not acknowledged; it is
  retried and stored once the database is back.
* A message that keeps failing for an unexpected reason is copied to the dead-letter
  directory before it is acknowledged, so it is neither lost nor retried forever.
* Messages published while the ingest is stopped arrive when it starts again.

The edges' keys are registered, so every event passes the chain gate and becomes a case:
what these tests count is what the ingest kept, not what the quarantine held back.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from civicwatch.services import MosquittoProcess
from server.core.config import load_settings
from server.core.db import make_engine, make_session_factory, run_migrations
from server.evidence_store import EvidenceStore
from server.ingest import IngestContext, IngestMetrics, MqttIngest
from tests.contracts.chain_builders import Signer, WireMessage, edge_messages
from tests.faults.harness import Database, wait_until
from tests.server import builders as b
from tests.server.test_chain_verify import _register

pytestmark = pytest.mark.integration


def _publisher(broker: MosquittoProcess) -> mqtt.Client:
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id="durable-test-edge",
        protocol=mqtt.MQTTv5,
    )
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client


def _publish(client: mqtt.Client, messages: list[WireMessage]) -> None:
    for m in messages:
        info = client.publish(m.topic, m.payload, qos=1, properties=b.props(m.content_type))
        info.wait_for_publish(timeout=10)


def _ingest(
    tmp_path: Path, broker: MosquittoProcess, db_url: str, client_id: str
) -> tuple[MqttIngest, IngestMetrics]:
    settings = load_settings(
        None,
        database_url=db_url,
        evidence_dir=tmp_path / "evidence",
        dead_letter_dir=tmp_path / "dead-letter",
        mqtt={
            "host": broker.host,
            "port": broker.port,
            "client_id": client_id,
            "reconnect_max_s": 1,
        },
    )
    engine = make_engine(db_url)
    metrics = IngestMetrics()
    ingest = MqttIngest(
        settings=settings,
        session_factory=make_session_factory(engine),
        context=IngestContext(store=EvidenceStore(settings.evidence_dir)),
        metrics=metrics,
    )
    return ingest, metrics


def test_a_message_waits_unacknowledged_until_the_database_is_back(
    tmp_path: Path, mqtt_broker: MosquittoProcess
) -> None:
    db_dir = tmp_path / "db"
    url = f"sqlite:///{db_dir / 'cases.db'}"
    ingest, metrics = _ingest(tmp_path, mqtt_broker, url, "durable-db-away")
    shutil.rmtree(db_dir)  # the database cannot even be opened
    ingest.start()
    client = _publisher(mqtt_broker)
    try:
        assert ingest.wait_connected(15)
        signer = Signer(edge_id="edge-db-away")
        event, messages = edge_messages(signer, seed="db-away")
        _publish(client, messages)
        wait_until(lambda: metrics.snapshot().rejected.get("db_unavailable", 0) >= 2, 20, "retries")
        # The database comes back whole at once: migrated, with the edge's key registered.
        ready = tmp_path / "db-ready"
        ready.mkdir()
        ready_url = f"sqlite:///{ready / 'cases.db'}"
        ready_engine = make_engine(ready_url)
        run_migrations(ready_engine)
        _register(make_session_factory(ready_engine), signer)
        ready_engine.dispose()
        ready.rename(db_dir)
        db = Database(url, tmp_path / "evidence")
        wait_until(lambda: db.counts().event_messages == 1, 30, "the event after recovery")
        wait_until(lambda: db.counts().evidence == 2, 30, "the evidence after recovery")
        wait_until(lambda: db.counts().verified_records == 1, 30, "the record after recovery")
        assert db.stored_event_ids() == {event.event_id}
        assert db.counts().chain_records == 1
        db.close()
    finally:
        client.disconnect()
        client.loop_stop()
        ingest.stop()


def test_a_message_that_keeps_failing_is_dead_lettered_then_acknowledged(
    tmp_path: Path, mqtt_broker: MosquittoProcess
) -> None:
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    run_migrations(make_engine(url))
    ingest, metrics = _ingest(tmp_path, mqtt_broker, url, "durable-dead-letter")
    (tmp_path / "evidence").write_text("not a directory")  # a broken evidence volume
    ingest.start()
    client = _publisher(mqtt_broker)
    try:
        assert ingest.wait_connected(15)
        _, messages = edge_messages(Signer(edge_id="edge-dead"), seed="dead")
        evidence = messages[0]
        _publish(client, [evidence])
        dead = tmp_path / "dead-letter"
        files = wait_until(lambda: list(dead.glob("*.json")), 20, "a dead letter")
        letter = json.loads(files[0].read_bytes())
        assert letter["topic"] == evidence.topic and letter["code"] == "internal_error"
        assert base64.b64decode(letter["payload_base64"]) == evidence.payload
        assert metrics.snapshot().rejected["internal_error"] == 3
    finally:
        client.disconnect()
        client.loop_stop()
        ingest.stop()


def test_messages_published_while_the_ingest_is_stopped_arrive_on_restart(
    tmp_path: Path, mqtt_broker: MosquittoProcess
) -> None:
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    db = Database(url, tmp_path / "evidence")
    first, _ = _ingest(tmp_path, mqtt_broker, url, "durable-restart")
    first.start()
    assert first.wait_connected(15)
    first.stop()  # a clean stop keeps the session (clean start off, session expiry)
    client = _publisher(mqtt_broker)
    try:
        signer = Signer(edge_id="edge-restart")
        _register(db.factory, signer)
        sent = []
        for i in range(20):
            event, messages = edge_messages(signer, seed=f"restart-{i}")
            _publish(client, messages)
            sent.append(event.event_id)
        second, _ = _ingest(tmp_path, mqtt_broker, url, "durable-restart")
        second.start()
        try:
            wait_until(lambda: db.counts().verified_records == 20, 30, "the queued records")
            wait_until(lambda: db.stored_event_ids() == set(sent), 30, "the queued events")
            assert db.counts().event_messages == 20
        finally:
            second.stop()
    finally:
        client.disconnect()
        client.loop_stop()
        db.close()
