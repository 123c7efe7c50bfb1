"""Two ingest replicas on a real Mosquitto and PostgreSQL; one is killed mid-ingest.

Each replica is a separate process running the server's :class:`MqttIngest` with the same
``ingest.shared_group`` (MQTT 5 shared subscriptions), its own client id and persistent
session, one PostgreSQL database and one evidence store. Signed events with evidence
from several simulated edges are published while replica A is killed with SIGKILL
(nothing flushed, nothing acknowledged after its last commit) and then started again
with the same client id, as a supervisor does. Every event must become exactly one case,
with all its evidence stored and its chain record verified.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives import serialization
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from server import chain_store
from server.core.config import load_settings
from server.core.db import make_engine, make_session_factory, run_migrations, utcnow
from server.evidence_store import EvidenceStore
from server.ingest import IngestContext, IngestLimits, IngestMetrics, MqttIngest
from server.ingest.client import subscriptions
from server.tables import Case, CaseEvent, ChainRecordRow, Evidence, QuarantinedEvent
from tests.contracts.chain_builders import Signer, WireMessage, edge_messages
from tests.server import builders as b

pytestmark = pytest.mark.integration

EDGES = 3
EVENTS_PER_EDGE = 30
GROUP = "replica-test"
LIMITS = IngestLimits(edge_event_rate_per_s=1000.0, edge_event_burst=100_000)
"""Default limits without the per-edge rate (the test sends each edge's events at once)."""


def run_replica(
    database_url: str, host: str, port: int, client_id: str, work: str, ready: str
) -> None:
    """A server's ingest in its own process until it is terminated (or killed)."""
    root = Path(work)
    settings = load_settings(
        None,
        database_url=database_url,
        evidence_dir=root / "evidence",
        dead_letter_dir=root / f"dead-letter-{client_id}",
        mqtt={"host": host, "port": port, "client_id": client_id},
        ingest={"shared_group": GROUP, "batch_max": 16},
    )
    engine = make_engine(database_url)
    ingest = MqttIngest(
        settings=settings,
        session_factory=make_session_factory(engine),
        context=IngestContext(store=EvidenceStore(settings.evidence_dir), limits=LIMITS),
        metrics=IngestMetrics(),
    )
    ingest.start()
    if ingest.wait_connected(30):
        Path(ready).touch()
    stop = multiprocessing.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    ingest.stop()
    engine.dispose()


def wait_until(check: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


class Replicas:
    """Starts, kills and stops replica processes (spawned: a fresh interpreter each)."""

    def __init__(self, database_url: str, broker: Any, work: Path) -> None:
        self._args = (database_url, broker.host, broker.port)
        self._work = work
        self._context = multiprocessing.get_context("spawn")
        self.running: dict[str, BaseProcess] = {}

    def start(self, client_id: str) -> None:
        ready = self._work / f"{client_id}-{uuid.uuid4().hex[:6]}.ready"
        process = self._context.Process(
            target=run_replica,
            args=(*self._args, client_id, str(self._work), str(ready)),
            daemon=True,
        )
        process.start()
        self.running[client_id] = process
        wait_until(ready.exists, 60, f"replica {client_id} subscribed")

    def kill(self, client_id: str) -> None:
        process = self.running.pop(client_id)
        assert process.pid is not None
        os.kill(process.pid, signal.SIGKILL)
        process.join(10)

    def stop_all(self) -> None:
        for process in self.running.values():
            process.terminate()
        for process in self.running.values():
            process.join(20)
            if process.is_alive():
                process.kill()
        self.running.clear()


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    run_migrations(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def replicas(postgres_url: str, mqtt_broker: Any, tmp_path: Path) -> Iterator[Replicas]:
    running = Replicas(postgres_url, mqtt_broker, tmp_path)
    yield running
    running.stop_all()


def _register(factory: sessionmaker[Session], signers: list[Signer]) -> None:
    with factory() as session, session.begin():
        for signer in signers:
            pem = signer.key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            chain_store.register_key(
                session, edge_id=signer.edge_id, public_key_text=pem.decode(), now=utcnow()
            )


def _count(factory: sessionmaker[Session], table: type[Any]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_shared_subscriptions_are_the_edge_data_topics_only() -> None:
    shared = subscriptions("g1")
    assert [t for t in shared if t.startswith("$share/g1/")] == [
        f"$share/g1/{t}" for t in subscriptions(None) if "/availability" not in t
    ]
    assert any("/availability" in t and not t.startswith("$share/") for t in shared)


def test_a_replica_on_sqlite_is_refused(tmp_path: Path) -> None:
    settings = load_settings(
        None, database_url=f"sqlite:///{tmp_path / 'c.db'}", ingest={"shared_group": GROUP}
    )
    engine = make_engine(settings.database_url)
    with pytest.raises(ValueError, match="PostgreSQL"):
        MqttIngest(
            settings=settings,
            session_factory=make_session_factory(engine),
            context=IngestContext(store=EvidenceStore(tmp_path / "e")),
            metrics=IngestMetrics(),
        )


def test_a_replica_killed_mid_ingest_loses_and_duplicates_nothing(
    pg_engine: Engine, replicas: Replicas, mqtt_broker: Any, tmp_path: Path
) -> None:
    factory = make_session_factory(pg_engine)
    run = uuid.uuid4().hex[:6]
    signers = [Signer(edge_id=f"edge-{run}-{i}") for i in range(EDGES)]
    _register(factory, signers)
    batches: list[list[WireMessage]] = []
    event_ids: set[str] = set()
    for n in range(EVENTS_PER_EDGE):
        for signer in signers:
            event, messages = edge_messages(signer, seed=f"{run}-{signer.edge_id}-{n}")
            event_ids.add(event.event_id)
            batches.append(messages)
    total = len(event_ids)

    replicas.start("replica-a")
    replicas.start("replica-b")
    edge = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"edges-{run}",
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    edge.connect(mqtt_broker.host, mqtt_broker.port)
    edge.loop_start()
    sent: list[mqtt.MQTTMessageInfo] = []
    try:
        killed_at = -1
        for index, messages in enumerate(batches):
            for message in messages:
                sent.append(
                    edge.publish(
                        message.topic,
                        message.payload,
                        qos=1,
                        properties=b.props(message.content_type),
                    )
                )
            if index == total // 3:
                # mid-ingest: cases are being committed, most are still to come
                wait_until(lambda: _count(factory, Case) > 0, 30, "the first cases")
                replicas.kill("replica-a")
                killed_at = _count(factory, Case)
        for info in sent:
            info.wait_for_publish(timeout=30)
        assert 0 < killed_at < total
        replicas.start("replica-a")  # as a supervisor would: its session is resumed
        wait_until(lambda: _count(factory, Case) >= total, 90, f"{total} cases")
        wait_until(lambda: _count(factory, ChainRecordRow) >= total, 30, f"{total} chain records")
    finally:
        edge.disconnect()
        edge.loop_stop()

    time.sleep(1.0)  # anything redelivered late would show as a duplicate now
    with factory() as session:
        per_event = session.execute(
            select(Case.event_id, func.count()).group_by(Case.event_id)
        ).all()
        assert {event_id for event_id, _ in per_event} == event_ids
        assert all(count == 1 for _, count in per_event)
        assert session.scalar(select(func.count()).select_from(CaseEvent)) == total
        stored = set(session.scalars(select(Evidence.sha256)))
        assert len(stored) == 2 * total
        records = session.scalars(select(ChainRecordRow)).all()
        assert len(records) == total and all(r.verified for r in records)
        waiting = session.scalar(
            select(func.count())
            .select_from(QuarantinedEvent)
            .where(QuarantinedEvent.resolved_at.is_(None))
        )
        assert waiting == 0
    store = EvidenceStore(tmp_path / "evidence")
    assert all(store.read(sha) for sha in stored)  # every file there, hash checked


def test_replica_accounts_share_the_ingest_on_the_closed_broker(tmp_path: Path) -> None:
    """Generated accounts: each replica logs in as its own, subscribes shared, gets a part."""
    from civicwatch.services import start_mosquitto
    from server.mosquitto_auth import server_usernames, write_broker_auth

    try:
        accounts = write_broker_auth(
            tmp_path / "auth",
            edge_ids=["edge-1"],
            server_username="civicwatch-server",
            broker_group=None,
            server_replicas=2,
        )
        broker = start_mosquitto(tmp_path / "mosquitto", auth_dir=tmp_path / "auth")
    except FileNotFoundError as exc:
        pytest.skip(f"no MQTT broker: {exc}")
    passwords = {account.username: account.password for account in accounts}
    names = server_usernames("civicwatch-server", 2)
    assert names == ["civicwatch-server", "civicwatch-server-2"]
    received: dict[str, list[str]] = {name: [] for name in names}
    clients: list[mqtt.Client] = []

    def login(name: str) -> mqtt.Client:
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=name,
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        client.username_pw_set(name, passwords[name])
        client.connect(broker.host, broker.port)
        client.loop_start()
        clients.append(client)
        wait_until(client.is_connected, 10, f"{name} logged in")
        return client

    try:
        granted: list[str] = []
        for name in names:
            client = login(name)
            client.on_message = lambda _c, _u, m, name=name: received[name].append(m.topic)
            client.on_subscribe = lambda _c, _u, _m, codes, _p: granted.extend(
                str(code) for code in codes
            )
            client.subscribe([(topic, 1) for topic in subscriptions(GROUP)])
        wait_until(lambda: len(granted) == 2 * len(subscriptions(GROUP)), 10, "subscriptions")
        assert all("Granted" in code for code in granted), granted
        edge = login("edge-1")
        for n in range(20):
            edge.publish(f"civicwatch/v1/edges/edge-1/events/cam-{n}", b"{}", qos=1)
        wait_until(lambda: sum(map(len, received.values())) >= 20, 10, "20 deliveries")
        time.sleep(0.3)
        topics = [topic for got in received.values() for topic in got]
        assert sorted(topics) == sorted(
            f"civicwatch/v1/edges/edge-1/events/cam-{n}" for n in range(20)
        )
        assert all(received[name] for name in names)  # both replicas took a share
        assert all(client.is_connected() for client in clients)  # no login kicked another
    finally:
        for client in clients:
            client.disconnect()
            client.loop_stop()
        broker.stop()
