"""Issue 17, Medium: ``/healthz`` said ok while the disks were full and ingest stalled.

A small tmpfs holds the database and the evidence; a real Mosquitto and the real server
(uvicorn, MQTT ingest) run; a filler file takes the space. Health must say what fails
(HTTP 503: the disks, then the stalled ingest), the edge's events must wait at the broker,
unacknowledged, and become cases on their own once the filler is gone.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from civicwatch.services import MosquittoProcess
from edge.chain import EdgeKey
from server.core.config import load_settings
from tests.faults.harness import Database, SimEdge, wait_until
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.integration


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(path: Path) -> None:
    """Write zeros until the file system is full."""
    with path.open("wb") as handle:
        try:
            while True:
                handle.write(b"\0" * (1 << 20))
                handle.flush()
        except OSError:
            pass


def test_health_reports_full_disks_and_ingest_resumes(
    small_disk: Path, mqtt_broker: MosquittoProcess, tmp_path: Path
) -> None:
    db = Database(f"sqlite:///{small_disk / 'cases.db'}", small_disk / "evidence")
    key = EdgeKey.generate()
    db.register("edge-disk", key)
    settings = load_settings(
        None,
        database_url=db.url,
        evidence_dir=db.evidence_dir,
        dead_letter_dir=small_disk / "dead-letter",
        mqtt={
            "host": mqtt_broker.host,
            "port": mqtt_broker.port,
            "client_id": "civicwatch-server-disk",
            "reconnect_max_s": 1,
        },
        health={"min_free_mb": 8, "ingest_stall_s": 1},
    )
    sim = SimEdge(tmp_path / "edge", "edge-disk", key, mqtt_broker.host, mqtt_broker.port)
    with LiveServer(settings) as server:
        health_url = f"{server.url}/healthz"
        assert server.state.ingest is not None and server.state.ingest.wait_connected(20)
        assert httpx.get(health_url, timeout=10).json()["status"] == "ok"
        filler = small_disk / "filler"
        _fill(filler)
        try:
            sim.start()
            sim.produce(3)
            full = httpx.get(health_url, timeout=30)
            assert full.status_code == 503, full.text
            report = full.json()
            assert report["status"] == "down"
            problems = " ".join(report["problems"])
            assert "evidence disk" in problems and "database disk" in problems
            wait_until(
                lambda: (
                    "ingest stalled"
                    in " ".join(httpx.get(health_url, timeout=30).json()["problems"])
                ),
                20,
                "health to report the stalled ingest",
            )
            assert db.counts().cases == 0
        finally:
            filler.unlink()
        wait_until(lambda: db.counts().cases == 3, 60, "3 cases after the space came back")
        wait_until(
            lambda: httpx.get(health_url, timeout=10).status_code == 200, 30, "health back to ok"
        )
        assert db.stored_event_ids() == set(sim.sent)
    sim.stop()
    db.close()
