"""A closed Mosquitto with generated accounts, the server's ingest and edges, for attacks.

:func:`closed_broker` writes the accounts with :func:`server.mosquitto_auth.write_broker_auth`
and starts a real Mosquitto with them (:func:`civicwatch.services.start_mosquitto`);
:class:`Stack` runs the server's in-process ingest (:class:`server.ingest.MqttIngest`) and
edges (real outbox, chain and publisher) that log in with their generated credentials.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from civicwatch.services import MosquittoProcess, start_mosquitto
from edge.chain import EdgeChain, EdgeKey
from edge.mqtt import MqttConfig, Publisher
from edge.outbox import Outbox
from server.core.config import load_settings
from server.ingest import IngestContext, IngestMetrics, MqttIngest
from server.mosquitto_auth import MqttAccount, write_broker_auth
from tests.faults.harness import Database

SERVER = "civicwatch-server"
EDGES = ("edge-a", "edge-b")


@dataclass
class ClosedBroker:
    """A running Mosquitto closed by the generated accounts."""

    broker: MosquittoProcess
    accounts: dict[str, MqttAccount]

    def login(self, username: str, *, client_id: str, clean_start: bool = True) -> mqtt.Client:
        """Connect (blocking) as ``username`` with ``client_id``; the caller disconnects."""
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            reconnect_on_failure=False,
        )
        client.username_pw_set(username, self.accounts[username].password)
        client.connect(self.broker.host, self.broker.port, clean_start=clean_start)
        client.loop_start()
        deadline = time.monotonic() + 10
        while not client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.is_connected(), f"{username} could not log in"
        return client


@contextmanager
def closed_broker(directory: Path) -> Iterator[ClosedBroker]:
    accounts = write_broker_auth(directory / "auth", edge_ids=EDGES, server_username=SERVER)
    broker = start_mosquitto(directory / "mosquitto", auth_dir=directory / "auth")
    try:
        yield ClosedBroker(broker, {a.username: a for a in accounts})
    finally:
        broker.stop()


@dataclass
class Stack:
    """The server's ingest and edges on a closed broker, credentials in the environment."""

    directory: Path
    closed: ClosedBroker
    db: Database
    monkeypatch: pytest.MonkeyPatch
    keys: dict[str, EdgeKey] = field(default_factory=dict)

    def _credentials(self, username: str) -> tuple[str, str]:
        name = username.replace("-", "_").upper()
        user_var, pass_var = f"CW_{name}_USER", f"CW_{name}_PASS"
        self.monkeypatch.setenv(user_var, username)
        self.monkeypatch.setenv(pass_var, self.closed.accounts[username].password)
        return user_var, pass_var

    def mqtt(self, username: str) -> dict[str, object]:
        user_var, pass_var = self._credentials(username)
        broker = self.closed.broker
        return {
            "host": broker.host,
            "port": broker.port,
            "username_env": user_var,
            "password_env": pass_var,
            "reconnect_max_s": 1,
        }

    def ingest(self, *, gap_check_s: float = 30.0) -> MqttIngest:
        settings = load_settings(
            None,
            database_url=self.db.url,
            evidence_dir=self.db.evidence_dir,
            mqtt={**self.mqtt(SERVER), "client_id": SERVER},
            dead_letter_dir=self.directory / "dead-letter",
        )
        return MqttIngest(
            settings=settings,
            session_factory=self.db.factory,
            context=IngestContext(store=self.db.store),
            metrics=IngestMetrics(),
            gap_check_s=gap_check_s,
        )

    def edge(self, edge_id: str) -> tuple[Outbox, EdgeChain, Publisher]:
        key = self.keys.setdefault(edge_id, EdgeKey.generate())
        self.db.register(edge_id, key)
        outbox = Outbox(self.directory / edge_id / "outbox.db")
        chain = EdgeChain(outbox, key, edge_id=edge_id)
        config = MqttConfig.model_validate(self.mqtt(edge_id))
        return outbox, chain, Publisher(edge_id=edge_id, config=config, outbox=outbox, chain=chain)


@contextmanager
def stack(directory: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """A closed broker and a database; ``monkeypatch`` sets the credentials' variables."""
    with closed_broker(directory) as closed:
        db = Database(f"sqlite:///{directory / 'cases.db'}", directory / "evidence")
        built = Stack(directory, closed, db, monkeypatch)
        try:
            yield built
        finally:
            db.close()
