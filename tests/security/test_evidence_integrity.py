"""Issue 17 (low): evidence files are checked against the database rows.

A real evidence store and database (SQLite and PostgreSQL), filled by the real ingest
handler; then files go missing, rot, or appear without a row. The quick pass (at server
start, on ``/healthz``) and the full pass (``civicwatch server --check-evidence``) must
each say so, and delete nothing.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from civicwatch.cli import main as civicwatch
from contracts import topics
from server.core.config import load_settings
from server.core.db import make_engine, make_session_factory, run_migrations, utcnow
from server.evidence_integrity import IntegrityReport, check_evidence
from server.evidence_store import EvidenceStore
from server.ingest import IngestContext, IngestMetrics
from server.ingest.dispatch import dispatch
from server.main import create_app
from tests.server import builders as b


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cases.db'}"
    url: str = request.getfixturevalue("postgres_url")
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:  # every test migrates from nothing
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


@dataclass
class World:
    """Three evidence items stored by the ingest, with their rows."""

    url: str
    factory: sessionmaker[Session]
    store: EvidenceStore
    shas: list[str]

    def check(self, *, full: bool) -> IntegrityReport:
        return check_evidence(self.factory, self.store, full=full)

    def files(self) -> set[Path]:
        return {path for path in self.store.root.rglob("*") if path.is_file()}


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    engine = make_engine(db_url)
    run_migrations(engine)
    factory = make_session_factory(engine)
    store = EvidenceStore(tmp_path / "evidence")
    context, metrics = IngestContext(store=store), IngestMetrics()
    shas = []
    for seed in range(3):
        data = b.jpeg(seed)
        sha = hashlib.sha256(data).hexdigest()
        outcome = dispatch(
            factory,
            topics.evidence_topic("edge-a", sha),
            data,
            b.props("image/jpeg"),
            context=context,
            metrics=metrics,
            now=utcnow(),
        )
        assert outcome.accepted, outcome
        shas.append(sha)
    yield World(url=db_url, factory=factory, store=store, shas=shas)
    engine.dispose()


def _damage(world: World) -> tuple[str, str, Path]:
    """One file deleted, one rotted (same size), one orphan: returns what each is."""
    missing, rotten = world.shas[0], world.shas[1]
    world.store.path_for(missing).unlink()
    path = world.store.path_for(rotten)
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    orphan = b.jpeg(99)
    orphan_path = world.store.write(hashlib.sha256(orphan).hexdigest(), orphan)
    return missing, rotten, orphan_path


def test_a_clean_store_says_ok(world: World) -> None:
    for full in (False, True):
        report = world.check(full=full)
        assert report.ok, report
        assert (report.rows, report.files) == (3, 3)
        assert report.missing.count == report.corrupt.count == 0
        assert report.orphans is not None and report.orphans.count == 0
        assert report.problems() == []


def test_missing_corrupt_and_orphan_files_are_each_found_and_nothing_is_deleted(
    world: World,
) -> None:
    missing, rotten, orphan_path = _damage(world)
    before = world.files()
    quick = world.check(full=False)
    assert quick.missing.count == 1 and missing in quick.missing.examples[0]
    assert quick.corrupt.count == 0  # same size: only hashing tells
    assert quick.orphans is not None and quick.orphans.count == 1
    assert str(orphan_path) in quick.orphans.examples[0]
    full = world.check(full=True)
    assert not full.ok
    assert full.missing.count == 1
    assert full.corrupt.count == 1 and rotten in full.corrupt.examples[0]
    assert full.orphans is not None and full.orphans.count == 1
    assert world.files() == before  # orphans are retention's business


def test_the_quick_pass_sees_a_file_of_the_wrong_size_and_stray_names(world: World) -> None:
    path = world.store.path_for(world.shas[2])
    path.write_bytes(path.read_bytes()[:-10])
    stray = world.store.root / "ab" / "cd" / "notes.txt"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_text("not evidence")
    report = world.check(full=False)
    assert report.corrupt.count == 1 and "the row says" in report.corrupt.examples[0]
    assert report.orphans is not None and report.orphans.count == 1
    assert str(stray) in report.orphans.examples[0]
    assert stray.exists()


def _health_after_start(world: World) -> dict[str, Any]:
    settings = load_settings(
        None, database_url=world.url, evidence_dir=world.store.root, mqtt_enabled=False
    )
    with TestClient(create_app(settings)) as api:
        deadline = time.monotonic() + 30
        while True:
            body: dict[str, Any] = api.get("/healthz").json()
            if body["evidence_check"]["state"] not in ("pending", "checking"):
                return body
            assert time.monotonic() < deadline, body
            time.sleep(0.05)


def test_the_server_checks_at_start_and_shows_it_on_healthz(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    clean = _health_after_start(world)
    assert clean["status"] == "ok", clean
    check = clean["evidence_check"]
    assert check["state"] == "done" and check["mode"] == "quick"
    assert (check["rows"], check["missing"], check["corrupt"], check["orphans"]) == (3, 0, 0, 0)
    missing, _, orphan_path = _damage(world)
    world.store.path_for(world.shas[2]).write_bytes(b"short")
    with caplog.at_level(logging.WARNING, logger="server.evidence_integrity"):
        damaged = _health_after_start(world)
    assert damaged["status"] == "degraded", damaged
    check = damaged["evidence_check"]
    assert (check["missing"], check["corrupt"], check["orphans"]) == (1, 1, 1)
    assert any(missing in line for line in check["problems"])
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("1 missing" in line and missing in line for line in errors), errors
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(str(orphan_path) in line for line in warnings), warnings
    assert orphan_path.exists()


def _server_config(world: World, tmp_path: Path) -> Path:
    config = tmp_path / "server.yaml"
    config.write_text(
        f"database_url: {world.url}\nevidence_dir: {world.store.root}\nmqtt_enabled: false\n"
    )
    return config


def test_check_evidence_on_the_command_line_hashes_every_file(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _server_config(world, tmp_path)
    assert civicwatch(["server", "--check-evidence", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "full pass: 3 rows, 3 files: 0 missing, 0 corrupt, 0 orphans" in out
    assert out.endswith("ok\n")
    _, rotten, _ = _damage(world)
    assert civicwatch(["server", "--check-evidence", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "1 missing, 1 corrupt, 1 orphans" in out
    assert rotten in out


def _check(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``civicwatch server --check``: its exit status, stdout and stderr."""
    status = civicwatch(["server", "--check", "--config", str(config)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_check_on_the_command_line_runs_the_quick_pass(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _server_config(world, tmp_path)
    status, out, _ = _check(config, capsys)
    assert status == 0 and out.endswith("ok\n"), out
    assert "evidence: quick pass: 3 rows, 3 files: 0 missing, 0 corrupt, 0 orphans" in out
    missing, _, _ = _damage(world)
    status, out, err = _check(config, capsys)
    assert status == 1 and "1 missing, 0 corrupt, 1 orphans" in out and missing in out
    assert "evidence: 1 missing, 0 corrupt" in err
    world.store.path_for(world.shas[2]).write_bytes(b"short")  # the size tells, no hashing
    status, _, err = _check(config, capsys)
    assert status == 1 and "evidence: 1 missing, 1 corrupt" in err
