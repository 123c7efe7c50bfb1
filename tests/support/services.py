"""Session-wide real services for tests: a private Mosquitto and a fresh PostgreSQL database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from civicwatch.services import MosquittoProcess, ensure_postgres, start_mosquitto


@pytest.fixture(scope="session")
def mqtt_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoProcess]:
    """A private Mosquitto on a free loopback port with civicwatch's configuration."""
    try:
        broker = start_mosquitto(tmp_path_factory.mktemp("mosquitto"))
    except FileNotFoundError as exc:
        pytest.skip(f"no MQTT broker: {exc}; run 'make test' to install it")
    yield broker
    broker.stop()


def _admin_url() -> str:
    return os.environ.get(
        "CIVICWATCH_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
    )


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database (``postgresql+psycopg://`` URL), dropped afterwards."""
    psycopg = pytest.importorskip("psycopg")
    if not ensure_postgres():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432 and could not be started")
    name = f"civicwatch_test_{uuid.uuid4().hex[:10]}"
    admin = _admin_url()
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.skip(f"cannot create a PostgreSQL database via {admin}: {exc}")
    base = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    yield f"{base}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def shared_data_dir() -> Path:
    """Where ``../shared/data`` is (``CIVICWATCH_SHARED_DATA`` overrides)."""
    env = os.environ.get("CIVICWATCH_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The third-party data folder; skips the test with a clear reason when absent."""
    path = shared_data_dir()
    if not (path / "INVENTORY.md").is_file():
        pytest.skip(
            f"shared data not found at {path} (set CIVICWATCH_SHARED_DATA); "
            "this test uses third-party clips/weights that are never committed"
        )
    return path
