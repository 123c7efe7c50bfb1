"""Issue 20's done-when: the zone editor against a real running edge, in real Chromium.

Real Mosquitto, real RTSP (GStreamer on loopback), the real server (uvicorn, its MQTT ingest
and control publisher) and the real edge runtime (worker with the project's detector, control,
health, snapshots). The operator registers the camera, asks for a snapshot (the edge sends its
frame), draws a zone on it, saves it, and sees "已应用 / applied on the edge" while the
stream goes on (the edge's analysed-frame counter keeps rising, the pipeline is the same);
then the stream is stopped and the camera's row on /cameras turns red with a "dark" alarm.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from civicwatch.services import MosquittoProcess
from contracts.mqtt import MqttSettings
from edge.config import EdgeConfig
from edge.control.runtime import EdgeRuntime
from server.core.config import load_settings
from tests.server.cameras.conftest import STREET, add_units
from tests.support.live_server import LiveServer
from tests.support.rtsp_server import RtspServer, rtsp_server_available, write_test_clip

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]
CATALOG = REPO / "server" / "i18n" / "catalog"
ZH: dict[str, str] = json.loads((CATALOG / "cameras.zh-CN.json").read_text(encoding="utf-8"))
EDGE = "edge-ui"
DARK_AFTER_S = 4.0


def _wait(what: Callable[[], bool], timeout_s: float, message: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if what():
            return
        time.sleep(0.1)
    assert what(), message


def _edge_config(tmp_path: Path, port: int) -> EdgeConfig:
    return EdgeConfig.model_validate(
        {
            "edge_id": EDGE,
            "mqtt": {"host": "127.0.0.1", "port": port, "reconnect_max_s": 1},
            "detector": {"type": "yolo", "path": str(REPO / "models/civicwatch-street-v4.onnx")},
            "model_registry": None,
            "outbox_path": str(tmp_path / "outbox.db"),
            "control": {
                "enabled": True,
                "state_dir": str(tmp_path / "control"),
                "profiles": {
                    "stationary": {"analysis_fps": 2.0, "decode": "all"},
                    "road": {"analysis_fps": 5, "decode": "all"},
                },
            },
            "health": {"interval_s": 1, "view_check_interval_s": 1},
            "snapshots": {"interval_s": 0, "directory": str(tmp_path / "snapshots")},
            "cameras": [],
        }
    )


@pytest.fixture
def rtsp(tmp_path: Path) -> Iterator[RtspServer]:
    reason = rtsp_server_available()
    if reason is not None:
        pytest.skip(reason)
    clip = write_test_clip(tmp_path / "street.mp4", frames=250, size_wh=(320, 240), gop=25)
    with RtspServer(clip) as server:
        yield server


@pytest.fixture
def live(tmp_path: Path, mqtt_broker: MosquittoProcess) -> Iterator[LiveServer]:
    settings = load_settings(
        None,
        database_url=f"sqlite:///{tmp_path / 'cases.db'}",
        evidence_dir=tmp_path / "evidence",
        dead_letter_dir=tmp_path / "dead-letter",
        mqtt=MqttSettings(
            host=mqtt_broker.host,
            port=mqtt_broker.port,
            client_id=f"server-{uuid.uuid4().hex[:8]}",
        ),
        cameras={"dark_after_s": DARK_AFTER_S, "alarm_interval_s": 0.5},
    )
    with LiveServer(settings) as server:
        add_units(server.state.session_factory)
        yield server


def _analysed(live: LiveServer, pk: int) -> int:
    items = httpx.get(f"{live.url}/api/v1/cameras/{pk}/health?limit=1").json()["items"]
    return int(items[-1]["frames_analysed"]) if items else 0


def test_draw_on_a_real_edge_snapshot_applied_without_restart_then_dark(
    tmp_path: Path,
    live: LiveServer,
    rtsp: RtspServer,
    mqtt_broker: MosquittoProcess,
    browser: Any,
) -> None:
    created = httpx.post(
        f"{live.url}/api/v1/cameras",
        json={
            "edge_id": EDGE,
            "camera_id": "cam-1",
            "name": "南京东路口",
            "unit_id": STREET,
            "stream_url": rtsp.url,
        },
    )
    assert created.status_code == 201, created.text
    pk = created.json()["id"]
    runtime = EdgeRuntime(_edge_config(tmp_path, mqtt_broker.port))
    runtime.start()
    try:
        _wait(lambda: _analysed(live, pk) > 0, 60, "the edge runs the camera and reports health")
        pipeline = runtime.worker.pipeline("cam-1")

        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{live.url}/cameras/{pk}/zones")
        page.locator("#apply-status.ok").wait_for(timeout=30_000)  # v1 (no zones) applied
        page.click("#snapshot-button")
        page.wait_for_function(
            "() => document.getElementById('snapshot').naturalWidth === 320", timeout=30_000
        )
        assert page.locator("#snapshot-status").inner_text() == ZH["cameras.snapshot.ready"]

        page.click("#add-zone")
        box = page.locator("#canvas").bounding_box()
        for x, y in [(0.05, 0.5), (0.95, 0.5), (0.95, 0.95), (0.05, 0.95)]:
            page.mouse.click(box["x"] + x * box["width"], box["y"] + y * box["height"])
        page.keyboard.press("Enter")
        page.fill("#zone-fields input[name=id]", "pavement")
        page.locator("#zone-fields input[name=id]").dispatch_event("change")
        before = _analysed(live, pk)
        page.click("#save")
        applied = ZH["cameras.editor.applied"].replace("{v}", "2")
        page.locator("#apply-status", has_text=applied).wait_for(timeout=30_000)

        assert runtime.worker.pipeline("cam-1") is pipeline  # applied without a restart
        assert [z.id for z in pipeline.zones.zones] == ["pavement"]
        latest = httpx.get(f"{live.url}/api/v1/cameras/{pk}/zones/latest").json()
        assert latest["reference_sha256"] is not None
        _wait(lambda: _analysed(live, pk) > before + 2, 30, "the stream goes on after the save")

        rtsp.stop()
        listing = browser.new_page()
        listing.goto(f"{live.url}/cameras")
        row = listing.locator(f"#cameras tr.alarm[data-camera='{pk}']")
        row.wait_for(timeout=60_000)
        assert ZH["cameras.alarm.dark"] in row.locator(".alarms").inner_text()
    finally:
        runtime.stop()
