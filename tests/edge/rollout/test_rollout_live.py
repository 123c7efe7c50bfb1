"""A running edge takes a model from the server without a restart: a real RTSP stream, real
Mosquitto (the retained assignment), the real server over HTTP (the file), the real worker.
The assigned model is swapped in between two frames with no analysis interval dropped; a
file that will not load is refused and the running model stays; a rollback goes back the
same way."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from civicwatch.services import MosquittoProcess
from contracts import topics
from contracts.mqtt import MqttSettings
from edge.config import EdgeConfig
from edge.control.runtime import EdgeRuntime
from edge.rollout.wiring import start_rollout
from edge.types import Frame
from server import auth
from server.core.config import load_settings
from server.core.db import utcnow
from server.rollout.publish import publish_assignments
from server.rollout.service import assign, current, find_model, register_model, rollback
from server.tables import UserRole
from tests.edge.control.support import PAVEMENT, camera, config_message
from tests.support.live_server import LiveServer
from tests.support.rtsp_server import RtspServer, rtsp_server_available, write_test_clip

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]
V4 = REPO / "models" / "civicwatch-street-v4.onnx"
V5 = REPO / "models" / "civicwatch-street-v5.onnx"
EDGE = "edge-rollout"
FPS = 2.0


def _wait(what: Callable[[], bool], timeout_s: float, message: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if what():
            return
        time.sleep(0.05)
    assert what(), message


@pytest.fixture
def rtsp(tmp_path: Path) -> Iterator[RtspServer]:
    reason = rtsp_server_available()
    if reason is not None:
        pytest.skip(reason)
    clip = write_test_clip(tmp_path / "street.mp4", frames=400, size_wh=(320, 240), gop=25)
    with RtspServer(clip) as server:
        yield server


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    settings = load_settings(
        None,
        database_url=f"sqlite:///{tmp_path / 'server.db'}",
        evidence_dir=tmp_path / "evidence",
        mqtt_enabled=False,
        auth_enabled=True,
    )
    with LiveServer(settings) as server:
        now = utcnow()
        with server.state.session_factory() as session, session.begin():
            auth.create_user(
                session, username=EDGE, password="edge-pass-1234", role=UserRole.EDGE, now=now
            )
        with server.state.session_factory() as session:
            for data, version in (
                (V4.read_bytes(), "4"),
                (V5.read_bytes(), "5"),
                (b"not an onnx file", "broken"),
            ):
                register_model(
                    session,
                    server.state.store,
                    data=data,
                    name="street",
                    version=version,
                    by="op",
                    now=now,
                )
            session.commit()
        yield server


def _config(tmp_path: Path, port: int) -> EdgeConfig:
    return EdgeConfig.model_validate(
        {
            "edge_id": EDGE,
            "mqtt": {"host": "127.0.0.1", "port": port, "reconnect_max_s": 1},
            "detector": {"type": "yolo", "path": str(V4)},
            "model_registry": None,
            "outbox_path": str(tmp_path / "edge" / "outbox.db"),
            "control": {
                "enabled": True,
                "state_dir": str(tmp_path / "control"),
                "profiles": {"stationary": {"analysis_fps": FPS, "decode": "all"}},
            },
            "health": {"interval_s": 1, "view_check_interval_s": 1},
            "snapshots": {"interval_s": 0, "directory": str(tmp_path / "snapshots")},
            "cameras": [],
        }
    )


def test_an_edge_swaps_the_assigned_model_while_its_stream_runs(
    tmp_path: Path, rtsp: RtspServer, mqtt_broker: MosquittoProcess, live: LiveServer
) -> None:
    broker = MqttSettings(host=mqtt_broker.host, port=mqtt_broker.port, client_id="srv-rollout")
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    server_mqtt = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id="srv-config",
        protocol=mqtt.MQTTv5,
    )
    server_mqtt.connect(mqtt_broker.host, mqtt_broker.port)
    server_mqtt.loop_start()
    v1 = config_message(EDGE, 1, camera("cam-1", rtsp.url, PAVEMENT))
    server_mqtt.publish(
        topics.config_topic(EDGE), v1.to_json(), qos=1, retain=True
    ).wait_for_publish(5)
    factory = live.state.session_factory

    def publish(kind: str, ref: str | None = None) -> int:
        with factory() as session:
            seen = {e: r.revision for e, r in current(session, [EDGE]).items()}
            if kind == "rollback":
                done = [
                    rollback(session, edge_id=EDGE, seen=seen.get(EDGE), by="ann", now=utcnow())
                ]
            else:
                assert ref is not None
                done = assign(
                    session,
                    edge_ids=[EDGE],
                    model=find_model(session, ref),
                    seen=seen,
                    canary=True,
                    by="ann",
                    now=utcnow(),
                )
            session.commit()
        publish_assignments(broker, [d.message for d in done])
        return done[0].revision

    runtime = EdgeRuntime(_config(tmp_path, mqtt_broker.port))
    env = {
        "CIVICWATCH_MODEL_SERVER_URL": live.url,
        "CIVICWATCH_EDGE_HTTP_USERNAME": EDGE,
        "CIVICWATCH_EDGE_HTTP_PASSWORD": "edge-pass-1234",
    }
    rollout = start_rollout(runtime, env)
    assert rollout is not None
    state_file = tmp_path / "edge" / "model-rollout.json"
    analysed: list[float] = []

    def applied() -> dict[str, Any]:
        try:
            return dict(json.loads(state_file.read_text()))
        except (OSError, ValueError):
            return {}

    try:
        runtime.start()
        _wait(
            lambda: any(p.camera.id == "cam-1" for p in runtime.worker.pipelines), 30, "cam-1 runs"
        )
        pipeline = runtime.worker.pipeline("cam-1")
        process = pipeline.process

        def timed(frame: Frame) -> Any:
            events = process(frame)
            analysed.append(frame.ts.timestamp())
            return events

        pipeline.process = timed  # type: ignore[method-assign]
        _wait(lambda: len(analysed) >= 4, 30, "cam-1 analyses frames")
        v5 = hashlib_of(V5)
        before = len(analysed)
        assert publish("assign", "street@5") == 1
        _wait(lambda: pipeline.detector.model.sha256 == v5, 60, "v5 swapped in")
        assert runtime.worker.pipeline("cam-1") is pipeline  # no restart
        _wait(lambda: len(analysed) >= before + 10, 30, "frames after the swap")
        assert applied()["applied_revision"] == 1
        assert "agreement" in applied()["applied"]["detail"]

        assert publish("assign", "street@broken") == 2
        _wait(
            lambda: applied().get("last", {}).get("revision") == 2, 30, "the broken file answered"
        )
        assert (
            applied()["last"]["state"] == "failed" and "cannot load" in applied()["last"]["detail"]
        )
        assert pipeline.detector.model.sha256 == v5 and applied()["applied_revision"] == 1

        assert publish("rollback") == 3  # back to what ran before revision 2: street@5
        _wait(lambda: applied().get("last", {}).get("revision") == 3, 30, "the rollback")
        assert applied()["last"]["state"] == "applied" and pipeline.detector.model.sha256 == v5
        assert publish("assign", "street@4") == 4
        _wait(lambda: pipeline.detector.model.sha256 == hashlib_of(V4), 60, "v4 back")

        def reported() -> tuple[int | None, str | None]:
            with factory() as session:
                row = current(session, [EDGE])[EDGE]
                return row.reported_revision, row.reported_state

        _wait(lambda: reported() == (4, "applied"), 30, "the edge reported revision 4")
        until = len(analysed) + 6
        _wait(lambda: len(analysed) >= until, 30, "frames after the last swap")
    finally:
        rollout.stop()
        runtime.stop()
        server_mqtt.publish(topics.config_topic(EDGE), b"", qos=1, retain=True).wait_for_publish(5)
        server_mqtt.publish(topics.model_topic(EDGE), b"", qos=1, retain=True).wait_for_publish(5)
        server_mqtt.disconnect()
        server_mqtt.loop_stop()
    gaps = np.diff(analysed[max(before - 1, 0) :])
    assert len(gaps) >= 20 and gaps.max() < 1.5 / FPS, gaps.round(2).tolist()


def hashlib_of(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()
