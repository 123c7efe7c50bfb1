"""A running worker takes new zones, cameras and detectors without dropping its stream.

One camera is served over real RTSP on loopback (GStreamer) and analysed at 2 frames a second
by the real worker; the test swaps detectors (the project's v4 model, then two scripted ones
that see a stall), applies zones (one added, then the stall's zone removed), and adds and
removes a second camera, all while frames flow. It checks that no analysis interval was
dropped, that each case started once and ended once (with the worker's reason), and that the
replaced detectors were released.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from contracts import EventPhase, ModelRef, ZoneEvent
from edge.config import CameraConfig, EdgeConfig
from edge.detectors import Detector
from edge.outbox import Outbox
from edge.types import Detections, Frame, ImageArray
from edge.worker import CameraPipeline, EdgeWorker
from tests.support.rtsp_server import RtspServer, rtsp_server_available, write_test_clip
from zones.config import CameraZones

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
V4 = REPO / "models" / "civicwatch-street-v4.onnx"
NAMES = ("person", "car", "truck", "stall", "goods", "bare_soil", "dust_net")
FPS = 2.0
PAVEMENT = {
    "id": "pavement",
    "name": "Pavement",
    "kind": "no_vending",
    "polygon": [[0.0, 0.5], [1.0, 0.5], [1.0, 1.0], [0.0, 1.0]],
    "objects": ["stall"],
    "dwell_s": 1,
    "inertia": 1,
}
KERB = {**PAVEMENT, "id": "kerb", "name": "Kerb", "polygon": [[0, 0], [0.5, 0], [0.5, 0.4]]}


class StallDetector:
    """A scripted detector that sees one stall in the lower half of every image."""

    names = NAMES
    input_size = (320, 320)
    providers = ("CPUExecutionProvider",)

    def __init__(self, name: str) -> None:
        self.model = ModelRef(name=name, version="1", sha256=name[-1] * 64)
        self.calls = 0
        self.closed = False

    def detect(self, image: ImageArray) -> Detections:
        assert not self.closed, f"{self.model.name} used after it was released"
        self.calls += 1
        h, w = image.shape[:2]
        return Detections(
            xyxy=np.array([[0.3 * w, 0.6 * h, 0.5 * w, 0.9 * h]], np.float32),
            confidence=np.array([0.9], np.float32),
            class_id=np.array([3], np.int64),
            names=NAMES,
        )

    def close(self) -> None:
        self.closed = True


def _zones(camera_id: str, *zones: dict[str, Any]) -> CameraZones:
    return CameraZones.model_validate({"camera_id": camera_id, "zones": list(zones)})


def _camera(camera_id: str, url: str, tmp_path: Path) -> dict[str, Any]:
    zone_file = tmp_path / f"{camera_id}.yaml"
    zone_file.write_text(json.dumps({"camera_id": camera_id, "zones": [PAVEMENT]}), "utf-8")
    source = {"type": "rtsp", "url": url, "decode": "all"}
    return {"id": camera_id, "source": source, "zones": str(zone_file), "analysis_fps": FPS}


def _record(pipeline: CameraPipeline, log: list[float]) -> None:
    """Note the capture time of every frame the pipeline analyses."""
    process = pipeline.process

    def timed(frame: Frame) -> list[ZoneEvent]:
        events = process(frame)
        log.append(frame.ts.timestamp())
        return events

    pipeline.process = timed  # type: ignore[method-assign]


def _wait(what: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if what():
            return True
        time.sleep(0.05)
    return what()


def _read_outbox(path: Path) -> list[ZoneEvent]:
    """The events the worker enqueued (nothing acknowledged them: all are pending)."""
    outbox = Outbox(path)
    try:
        messages = outbox.pending(limit=100_000)
    finally:
        outbox.close()
    return [
        ZoneEvent.model_validate_json(m.payload)
        for m in messages
        if m.content_type == "application/json" and "/event" in m.topic
    ]


@pytest.mark.parametrize("max_batch", [1, 4], ids=["direct", "batched"])
def test_swaps_zones_detectors_and_cameras_while_streaming(tmp_path: Path, max_batch: int) -> None:
    reason = rtsp_server_available()
    if reason is not None:
        pytest.skip(reason)
    clip = write_test_clip(tmp_path / "street.mp4", frames=250, size_wh=(320, 240), gop=25)
    started: list[tuple[str, ZoneEvent]] = []
    lock = threading.Lock()

    def on_start(camera_id: str, event: ZoneEvent) -> None:
        with lock:
            started.append((camera_id, event))

    with RtspServer(clip) as server:
        config = EdgeConfig.model_validate(
            {
                "edge_id": "edge-changes",
                "mqtt": {"host": "127.0.0.1", "port": 9},  # nothing acknowledges: all kept
                "detector": {
                    "type": "yolo",
                    "path": str(REPO / "models/civicwatch-street-v4.onnx"),
                },
                "model_registry": None,
                "outbox_path": str(tmp_path / "outbox.db"),
                "tracker": {"type": "bytetrack", "stationary": {"after_s": 0.5}},
                "scheduling": {"max_batch": max_batch},
                "cameras": [_camera("cam-1", server.url, tmp_path)],
            }
        )
        worker = EdgeWorker(config, on_case_start=on_start)
        first: Detector = worker.detector
        analysed: list[float] = []
        _record(worker.pipeline("cam-1"), analysed)
        a, b = StallDetector("stall-a"), StallDetector("stall-b")
        worker.start()
        try:
            assert _wait(lambda: len(analysed) >= 3, 30), "the camera never delivered"
            swapped_at = len(analysed)
            worker.swap_detector(a)
            assert _wait(lambda: any(c == "cam-1" for c, _ in started), 15), "no stall case"
            # a second zone: the pavement case stays open
            worker.apply_zones("cam-1", _zones("cam-1", PAVEMENT, KERB))
            worker.swap_detector(b)
            # a second camera, whose case ends when it is removed
            cam2 = CameraConfig.model_validate(_camera("cam-2", server.url, tmp_path))
            worker.add_camera(cam2, _zones("cam-2", PAVEMENT))
            assert _wait(lambda: any(c == "cam-2" for c, _ in started), 20), "cam-2 no case"
            worker.remove_camera("cam-2")
            seen = b.calls
            assert _wait(lambda: b.calls >= seen + 3, 10)
            # the pavement zone goes: its open case ends with the reason
            worker.apply_zones("cam-1", _zones("cam-1", KERB))
            until = len(analysed) + 4
            assert _wait(lambda: len(analysed) >= until, 10)
        finally:
            worker.stop()

    worker_events = _read_outbox(tmp_path / "outbox.db")
    by_id: dict[str, list[ZoneEvent]] = {}
    for event in worker_events:
        by_id.setdefault(event.event_id, []).append(event)
    assert len(by_id) == 2, {i: [e.phase for e in es] for i, es in by_id.items()}
    for event_id, life in by_id.items():
        phases = [e.phase for e in life]
        assert phases.count(EventPhase.START) == 1 and phases.count(EventPhase.END) == 1, phases
        assert phases[0] is EventPhase.START and phases[-1] is EventPhase.END, phases
        end = life[-1]
        expected = "zone_removed" if end.camera_id == "cam-1" else "camera_removed"
        assert end.details["end_reason"] == expected, (event_id, end.details)
        assert end.zone_id == "pavement"
    assert sorted(c for c, _ in started) == ["cam-1", "cam-2"]
    assert started[0][1].model.name == "stall-a"
    # no analysis interval dropped from the first swap on (2 frames a second)
    gaps = np.diff(analysed[swapped_at - 1 :])
    assert len(gaps) >= 10 and gaps.max() < 1.5 / FPS, gaps.round(2).tolist()
    # the replaced detectors were released, the current one was not
    assert a.closed and not b.closed
    assert first.onnx.session is None  # type: ignore[attr-defined]


def test_road_cameras_may_run_a_model_of_their_own(tmp_path: Path) -> None:
    cameras = []
    for camera_id, profile in (("shop-1", "stationary"), ("road-1", "road")):
        zone_file = tmp_path / f"{camera_id}.yaml"
        zone_file.write_text(json.dumps({"camera_id": camera_id, "zones": [PAVEMENT]}), "utf-8")
        source = {"type": "file", "path": str(tmp_path / "none.mp4")}
        cameras.append(
            {"id": camera_id, "source": source, "zones": str(zone_file), "profile": profile}
        )
    config = EdgeConfig.model_validate(
        {
            "edge_id": "edge-profiles",
            "detector": {"type": "yolo", "path": str(REPO / "models/civicwatch-street-v5.onnx")},
            "outbox_path": str(tmp_path / "outbox.db"),
            "scheduling": {"road_detector": {"type": "yolo", "path": str(V4)}},
            "cameras": cameras,
        }
    )
    worker = EdgeWorker(config)
    shop, road = worker.pipeline("shop-1"), worker.pipeline("road-1")
    assert shop.detector.model.version == "5" and road.detector.model.version == "4"
    assert shop.camera.rate_fps(config.scheduling) == 0.25
    assert road.camera.rate_fps(config.scheduling) == 5.0
    a, b = StallDetector("stall-a"), StallDetector("stall-b")
    worker.swap_detector(a, profile="road")
    assert road.detector is a and shop.detector.model.version == "5"
    worker.swap_detector(b)  # every camera
    assert road.detector is b and shop.detector is b and a.closed and not b.closed
    worker.outbox.close()
