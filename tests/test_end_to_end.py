"""The spine on real parts: RTSP camera -> edge (ONNX model, zone rule) -> MQTT -> server.

A rendered street clip in which a stall is set up and stays is served over real RTSP on
loopback; a real edge worker with the committed model reads it with PyAV, a real Mosquitto
carries the events, and the server makes a case whose evidence, fetched through the HTTP
API, matches the hashes the edge announced.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from civicwatch.services import MosquittoProcess
from edge.chain import EdgeKey
from edge.config import EdgeConfig
from edge.worker import EdgeWorker
from server.chain_store import register_key
from server.core.config import load_settings
from tests.support.live_server import LiveServer
from tests.support.rtsp_server import rtsp_server_available, serve_rtsp
from training.registry import default_model

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
MODEL = default_model()
ZONES = REPO / "configs" / "zones" / "demo-cam.yaml"


@pytest.fixture(scope="module")
def stall_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from training.scenes import render_scenario

    clip = tmp_path_factory.mktemp("clip") / "stall_setup.mp4"
    # the demo camera (seed 2024, 960x540) so the demo zone file fits the scene
    render_scenario("stall_setup", clip, seconds=24, seed=2024, fps=10, size=(960, 540))
    return clip


@pytest.fixture
def rtsp_url(stall_clip: Path) -> Iterator[str]:
    reason = rtsp_server_available()
    if reason is not None:
        pytest.skip(reason)
    with serve_rtsp(stall_clip, loop=True) as url:
        yield url


def _wait_for(fetch: Any, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = fetch()
        if value:
            return value
        time.sleep(0.5)
    return None


def test_rtsp_stream_to_case_with_verified_evidence(
    tmp_path: Path, mqtt_broker: MosquittoProcess, rtsp_url: str
) -> None:
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path / 'server.db'}",
        evidence_dir=tmp_path / "evidence",
        mqtt={
            "host": mqtt_broker.host,
            "port": mqtt_broker.port,
            "client_id": "civicwatch-server-e2e",
        },
    )
    config = EdgeConfig.model_validate(
        {
            "edge_id": "edge-e2e",
            "mqtt": {"host": mqtt_broker.host, "port": mqtt_broker.port},
            "detector": {"type": "yolo", "path": str(MODEL)},
            "model_registry": str(REPO / "models" / "registry.yaml"),
            "outbox_path": str(tmp_path / "outbox.db"),
            "chain": {"key_file": str(tmp_path / "keys" / "edge-e2e.key")},
            "cameras": [
                {
                    "id": "demo-cam",
                    "source": {"type": "rtsp", "url": rtsp_url},
                    "zones": str(ZONES),
                    "analysis_fps": 2.0,
                }
            ],
        }
    )
    with LiveServer(settings) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        # provision the edge's signing key and register it, as 'civicwatch keys' does
        _, public = EdgeKey.generate().save(tmp_path / "keys", "edge-e2e")
        with server.state.session_factory() as session, session.begin():
            register_key(
                session,
                edge_id="edge-e2e",
                public_key_text=public.read_text(encoding="ascii"),
                now=datetime.now(UTC),
            )
        worker = EdgeWorker(config)
        worker.start()
        try:
            page = _wait_for(
                lambda: http.get("/api/v1/cases", params={"camera_id": "demo-cam"}).json()["items"],
                90,
            )
            assert page, "no case within 90 s"
            case = http.get(f"/api/v1/cases/{page[0]['id']}").json()
            assert case["violation_type"] == "street_stall"
            assert case["zone_id"] == "pavement"
            assert case["label"] == "stall"
            assert case["model"]["name"] == worker.detector.model.name
            kinds = set()

            def all_available() -> list[dict[str, Any]]:
                items: list[dict[str, Any]] = http.get(f"/api/v1/cases/{page[0]['id']}").json()[
                    "evidence"
                ]
                return items if items and all(e["available"] for e in items) else []

            evidence = _wait_for(all_available, 20)
            assert evidence, "the case's evidence never arrived"
            for item in evidence:
                body = http.get(f"/api/v1/evidence/{item['sha256']}")
                assert body.status_code == 200
                assert hashlib.sha256(body.content).hexdigest() == item["sha256"]
                assert len(body.content) == item["byte_size"]
                kinds.add(item["kind"])
            assert {"frame", "annotated", "crop"} <= kinds
            chain = _wait_for(
                lambda: (
                    http.get(f"/api/v1/cases/{page[0]['id']}").json()["chain"]["status"]
                    == "verified"
                ),
                20,
            )
            assert chain, "the case's signed chain record did not verify"
        finally:
            worker.stop()
