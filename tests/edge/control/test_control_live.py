"""Issue 20, edge side: a running edge takes its config from the server's retained topic.

Real RTSP (GStreamer on loopback), real Mosquitto, the real edge runtime (worker with the
project's detector, control, health, snapshots). The "server" is a plain MQTT client that
publishes what the server's control publisher publishes (the contract's messages). The edge:

- starts with no camera of its own, gets config v1 (one camera) and runs it;
- gets v2 (a second zone) and applies it between two frames: the same pipeline goes on, no
  analysis interval is dropped beyond the swap, the status says v2;
- refuses v3 (a self-intersecting polygon) and v4 (a newer schema) with the reason, and goes
  on with v2;
- answers a snapshot request with a JPEG of its stream, and publishes health;
- gets v5, which disables the first camera and adds a second whose reference is that
  snapshot: health says so, and compares the second camera's view with it;
- started again while the broker is unreachable, runs v5 from its disk.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from civicwatch.services import MosquittoProcess
from contracts import topics
from contracts.control import ApplyState, ConfigStatus, SnapshotMessage, SnapshotRequest
from contracts.health import CameraState, EdgeHealth
from edge.config import EdgeConfig
from edge.control.runtime import EdgeRuntime
from edge.types import Frame
from edge.worker import CameraPipeline
from tests.edge.control.support import BOWTIE, KERB, PAVEMENT, camera, config_message
from tests.support.rtsp_server import RtspServer, rtsp_server_available, write_test_clip

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]
EDGE = "edge-live"
FPS = 2.0


class Server:
    """What the server does on MQTT: publish configs (retained) and requests, read answers."""

    def __init__(self, broker: MosquittoProcess) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id="fake-server",
            protocol=mqtt.MQTTv5,
        )
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        self.client.subscribe(f"{topics.edge_root(EDGE)}/#", qos=1)
        time.sleep(0.3)

    def _on_message(self, _c: object, _u: object, message: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((message.topic, bytes(message.payload)))

    def on(self, topic: str) -> list[bytes]:
        with self.lock:
            return [p for t, p in self.messages if t == topic]

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def statuses(self) -> list[ConfigStatus]:
        return [ConfigStatus.from_json(p) for p in self.on(topics.status_topic(EDGE))]

    def close(self) -> None:
        self.client.publish(topics.config_topic(EDGE), b"", qos=1, retain=True).wait_for_publish(5)
        self.client.disconnect()
        self.client.loop_stop()


def _wait(what: Callable[[], bool], timeout_s: float, message: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if what():
            return
        time.sleep(0.05)
    assert what(), message


def _record(pipeline: CameraPipeline, log: list[float]) -> None:
    process = pipeline.process

    def timed(frame: Frame) -> Any:
        events = process(frame)
        log.append(frame.ts.timestamp())
        return events

    pipeline.process = timed  # type: ignore[method-assign]


def _config(tmp_path: Path, port: int) -> EdgeConfig:
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
                    "stationary": {"analysis_fps": FPS, "decode": "all"},
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


def test_config_from_the_server_applied_live_refused_when_bad_and_kept_on_disk(
    tmp_path: Path, rtsp: RtspServer, mqtt_broker: MosquittoProcess
) -> None:
    server = Server(mqtt_broker)
    v1 = config_message(EDGE, 1, camera("cam-1", rtsp.url, PAVEMENT))
    server.publish(topics.config_topic(EDGE), v1.to_json(), retain=True)
    runtime = EdgeRuntime(_config(tmp_path, mqtt_broker.port))
    analysed: list[float] = []
    try:
        runtime.start()
        _wait(lambda: any(s.running_version == 1 for s in server.statuses()), 30, "v1 applied")
        pipeline = runtime.worker.pipeline("cam-1")
        _record(pipeline, analysed)
        _wait(lambda: len(analysed) >= 4, 30, "cam-1 analyses frames")

        v2 = config_message(EDGE, 2, camera("cam-1", rtsp.url, PAVEMENT, KERB, zone_version=2))
        swapped_at = len(analysed)
        server.publish(topics.config_topic(EDGE), v2.to_json(), retain=True)
        _wait(lambda: any(s.running_version == 2 for s in server.statuses()), 15, "v2 applied")
        assert runtime.worker.pipeline("cam-1") is pipeline  # no restart
        assert [z.id for z in pipeline.zones.zones] == ["pavement", "kerb"]

        bad = config_message(EDGE, 3, camera("cam-1", rtsp.url, BOWTIE, zone_version=3))
        server.publish(topics.config_topic(EDGE), bad.to_json(), retain=True)
        _wait(lambda: any(s.received_version == 3 for s in server.statuses()), 15, "v3 answer")
        newer = json.loads(v2.to_json())
        newer.update(schema_version=2, version=4, shiny_new_field=True)
        server.publish(topics.config_topic(EDGE), json.dumps(newer).encode(), retain=True)
        _wait(lambda: any(s.received_version == 4 for s in server.statuses()), 15, "v4 answer")

        request = SnapshotRequest(
            request_id="snap-1", edge_id=EDGE, camera_id="cam-1", requested_at=v1.issued_at
        )
        server.publish(topics.snapshot_request_topic(EDGE), request.to_json())
        snapshot_topic = topics.snapshot_topic(EDGE, "cam-1")
        _wait(lambda: bool(server.on(snapshot_topic)), 15, "the snapshot")
        health_topic = topics.health_topic(EDGE)
        _wait(lambda: len(server.on(health_topic)) >= 2, 15, "health samples")
        until = len(analysed) + 8
        _wait(lambda: len(analysed) >= until, 15, "frames after the refusals")

        reference = SnapshotMessage.from_json(server.on(snapshot_topic)[0]).sha256
        v5 = config_message(
            EDGE,
            5,
            camera("cam-1", rtsp.url, PAVEMENT, KERB, zone_version=2, enabled=False),
            camera("cam-2", rtsp.url, KERB, reference_sha256=reference),  # the same view
        )
        server.publish(topics.config_topic(EDGE), v5.to_json(), retain=True)
        _wait(lambda: any(s.running_version == 5 for s in server.statuses()), 20, "v5 applied")
        assert [p.camera.id for p in runtime.worker.pipelines] == ["cam-2"]
        _wait(
            lambda: any(
                [(c.camera_id, c.state) for c in EdgeHealth.from_json(h).cameras]
                == [("cam-2", CameraState.RUNNING), ("cam-1", CameraState.DISABLED)]
                for h in server.on(health_topic)
            ),
            20,
            "health of the added camera and the disabled one",
        )
        _wait(
            lambda: any(
                c.camera_id == "cam-2" and c.reference_sha256 == reference
                for h in server.on(health_topic)
                for c in EdgeHealth.from_json(h).cameras
            ),
            20,
            "the view compared with the reference snapshot",
        )
    finally:
        runtime.stop()

    statuses = {s.received_version: s for s in server.statuses()}
    assert statuses[2].state is ApplyState.APPLIED
    assert [(c.camera_id, c.zone_version) for c in statuses[2].cameras] == [("cam-1", 2)]
    refused = statuses[3]
    assert refused.state is ApplyState.REFUSED and refused.running_version == 2
    assert refused.error is not None and "self-intersecting" in refused.error
    assert "newer than this edge understands" in (statuses[4].error or "")
    assert [z.id for z in pipeline.zones.zones] == ["pavement", "kerb"]  # v2 still runs
    gaps = np.diff(analysed[max(swapped_at - 1, 0) :])
    assert len(gaps) >= 8 and gaps.max() < 1.5 / FPS, gaps.round(2).tolist()

    snapshot = SnapshotMessage.from_json(server.on(snapshot_topic)[0])
    jpeg = base64.b64decode(snapshot.jpeg_base64)
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape[:2] == (240, 320) and snapshot.request_id == "snap-1"
    sample = next(
        s for s in map(EdgeHealth.from_json, server.on(health_topic)) if s.config_version == 2
    )
    cam = sample.cameras[0]
    assert cam.camera_id == "cam-1" and cam.state is CameraState.RUNNING
    assert cam.frames_analysed > 0 and cam.frames_received >= cam.frames_analysed
    viewed = [
        c
        for h in server.on(health_topic)
        for c in EdgeHealth.from_json(h).cameras
        if c.reference_sha256 == reference
    ]
    assert viewed[-1].view_similarity is not None and viewed[-1].view_similarity > 0.5, viewed
    assert [(c.camera_id, c.enabled) for c in statuses[5].cameras] == [
        ("cam-2", True),
        ("cam-1", False),
    ]
    server.close()

    # the server is gone: a new edge process runs v5 from its disk
    again = EdgeRuntime(_config(tmp_path, 9))
    seen: list[float] = []
    try:
        assert again.control is not None and again.control.source == "disk"
        assert [p.camera.id for p in again.worker.pipelines] == ["cam-2"]
        _record(again.worker.pipeline("cam-2"), seen)
        again.start()
        _wait(lambda: len(seen) >= 3, 30, "frames from the config on disk")
        assert again.control.running_version == 5
        assert [z.id for z in again.worker.pipeline("cam-2").zones.zones] == ["kerb"]
    finally:
        again.stop()
