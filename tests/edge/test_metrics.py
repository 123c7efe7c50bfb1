"""The edge's Prometheus endpoint, scraped over HTTP from a real worker."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from civicwatch.services import MosquittoProcess, free_port
from edge.config import EdgeConfig
from edge.metrics import MetricsConfig
from edge.worker import EdgeWorker
from training.registry import default_model

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    response = httpx.get(url, timeout=5)
    assert response.status_code == 200, response.text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def _video(path: Path, frames: int) -> Path:
    cv2 = pytest.importorskip("cv2")
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (320, 240))
    rng = np.random.default_rng(0)
    for _ in range(frames):
        writer.write(rng.integers(0, 255, size=(240, 320, 3), dtype=np.uint8))
    writer.release()
    return path


def _wait(check: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def test_metrics_are_off_by_default() -> None:
    assert MetricsConfig().enabled is False
    with pytest.raises(ValueError, match="Extra inputs"):
        MetricsConfig.model_validate({"enabled": True, "path": "/x"})


def test_worker_serves_metrics_that_move_with_frames(
    tmp_path: Path, mqtt_broker: MosquittoProcess
) -> None:
    port = free_port()
    config = EdgeConfig.model_validate(
        {
            "edge_id": "edge-metrics",
            "mqtt": {"host": mqtt_broker.host, "port": mqtt_broker.port},
            "detector": {"type": "yolo", "path": str(default_model())},
            "model_registry": str(REPO / "models" / "registry.yaml"),
            "outbox_path": str(tmp_path / "outbox.db"),
            "metrics": {"enabled": True, "host": "127.0.0.1", "port": port},
            "cameras": [
                {
                    "id": "demo-cam",
                    "source": {"type": "file", "path": str(_video(tmp_path / "v.mp4", 12))},
                    "zones": str(REPO / "configs" / "zones" / "demo-cam.yaml"),
                    "analysis_fps": 60.0,
                }
            ],
        }
    )
    worker = EdgeWorker(config)
    url = f"http://127.0.0.1:{port}/metrics"
    camera = (("camera", "demo-cam"),)
    worker.start()
    try:
        assert _wait(lambda: worker.publisher.connected, 15), "publisher never connected"
        assert _wait(
            lambda: scrape(url)[("civicwatch_edge_frames_analysed_total", camera)] >= 12, 60
        )
        samples = scrape(url)
        assert samples[("civicwatch_edge_frames_decoded_total", camera)] >= 12
        detect = samples[("civicwatch_edge_stage_seconds_total", (*camera, ("stage", "detect")))]
        assert detect > 0
        assert samples[("civicwatch_edge_analysis_errors_total", camera)] == 0
        assert samples[("civicwatch_edge_frame_age_seconds", camera)] >= 0
        assert samples[("civicwatch_edge_outbox_depth", ())] == 0
        assert samples[("civicwatch_edge_mqtt_connected", ())] == 1
        assert samples[("civicwatch_edge_mqtt_connects_total", ())] >= 1
    finally:
        worker.stop()
    with pytest.raises(httpx.ConnectError):  # stopped with the worker
        httpx.get(url, timeout=2)
