"""Server fixtures: the same tests run on a SQLite file and on real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from server.core.config import Settings, load_settings
from server.core.db import make_engine, make_session_factory, run_migrations
from server.evidence_store import EvidenceStore
from server.ingest import IngestContext, IngestMetrics
from server.main import create_app
from tests.server.builders import UNCHAINED

NOW = datetime(2024, 5, 1, 9, 0, 0, tzinfo=UTC)


def _reset_postgres(url: str) -> None:
    """Empty the session's PostgreSQL database so every test migrates from nothing."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database: a SQLite file in ``tmp_path`` or the test PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cases.db'}"
    url: str = request.getfixturevalue("postgres_url")
    _reset_postgres(url)
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    run_migrations(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def store(tmp_path: Path) -> EvidenceStore:
    return EvidenceStore(tmp_path / "evidence")


@pytest.fixture
def context(store: EvidenceStore) -> IngestContext:
    return IngestContext(store=store, limits=UNCHAINED)


@pytest.fixture
def metrics() -> IngestMetrics:
    return IngestMetrics()


@pytest.fixture
def api_settings(db_url: str, tmp_path: Path) -> Settings:
    return load_settings(
        None, database_url=db_url, evidence_dir=tmp_path / "evidence", mqtt_enabled=False
    )


@pytest.fixture
def client(api_settings: Settings) -> Iterator[TestClient]:
    """A ``TestClient`` on a started app (migrated database, no MQTT)."""
    with TestClient(create_app(api_settings)) as test_client:
        yield test_client
