"""A real server (uvicorn on a loopback port) with accounts and one edge's cases, for attacks.

``secured_server`` builds a SQLite database, registers an edge key, ingests one edge's
signed events with evidence, creates an account per role and serves it all with
``auth_enabled`` on; tests attack it over real HTTP.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

from server import auth
from server.core.config import Settings, load_settings
from server.core.db import make_engine, make_session_factory, run_migrations, utcnow
from server.evidence_store import EvidenceStore
from server.ingest import IngestContext, IngestMetrics, dispatch
from server.tables import UserRole
from tests.faults.harness import Database, event_messages
from tests.server import builders as b
from tests.support.live_server import LiveServer

REPO = Path(__file__).resolve().parents[2]

ACCOUNTS = {
    "olga": (UserRole.OPERATOR, "tidal-basin-77"),
    "rita": (UserRole.REVIEWER, "quiet-harbor-41"),
    "adam": (UserRole.ADMIN, "granite-ferry-93"),
}


def server_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'cases.db'}",
        "evidence_dir": tmp_path / "evidence",
        "dead_letter_dir": tmp_path / "dead-letter",
        "mqtt_enabled": False,
        "auth_enabled": True,
    }
    values.update(overrides)
    return load_settings(None, **values)


def write_config(tmp_path: Path) -> Path:
    """A settings file for the command line naming the database of :func:`server_settings`."""
    config = tmp_path / "server.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database_url": f"sqlite:///{tmp_path / 'cases.db'}",
                "evidence_dir": str(tmp_path / "evidence"),
                "dead_letter_dir": str(tmp_path / "dead-letter"),
                "mqtt_enabled": False,
                "auth_enabled": True,
            }
        )
    )
    return config


def civicwatch(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m civicwatch ARGS`` from the repository root, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "civicwatch", *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def seed(settings: Settings, *, events: int = 2, edge_id: str = "edge-sec") -> None:
    """Accounts for every role, and ``events`` signed events with evidence from one edge."""
    from edge.chain import EdgeChain, EdgeKey
    from edge.outbox import Outbox

    engine = make_engine(settings.database_url)
    run_migrations(engine)
    factory = make_session_factory(engine)
    with factory() as session, session.begin():
        for name, (role, password) in ACCOUNTS.items():
            auth.create_user(session, username=name, password=password, role=role, now=utcnow())
    db = Database(settings.database_url, settings.evidence_dir)
    key = EdgeKey.generate()
    db.register(edge_id, key)
    outbox = Outbox(settings.evidence_dir.parent / f"{edge_id}-outbox.db")
    chain = EdgeChain(outbox, key, edge_id=edge_id)
    for i in range(events):
        event, messages = event_messages(edge_id, f"{edge_id}-{i}")
        chain.enqueue(messages, [event])
    context = IngestContext(store=EvidenceStore(settings.evidence_dir))
    metrics = IngestMetrics()
    for pending in outbox.pending(limit=10_000):
        dispatch(
            factory,
            pending.topic,
            pending.payload,
            b.props(pending.content_type),
            context=context,
            metrics=metrics,
            now=utcnow(),
        )
    chain.close()
    outbox.close()
    db.close()
    engine.dispose()


@contextmanager
def secured_server(tmp_path: Path, **overrides: Any) -> Iterator[LiveServer]:
    settings = server_settings(tmp_path, **overrides)
    seed(settings)
    with LiveServer(settings) as server:
        yield server


def login(url: str, name: str, password: str | None = None) -> httpx.Response:
    return httpx.post(
        f"{url}/api/v1/auth/login",
        json={"username": name, "password": password or ACCOUNTS[name][1]},
        timeout=30,
    )


def bearer(url: str, name: str) -> dict[str, str]:
    response = login(url, name)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}
