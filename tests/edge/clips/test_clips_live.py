"""Issue 20: a case carries a playable MP4 clip whose hash verifies in its chain record.

Real RTSP (GStreamer), real Mosquitto, the real server (uvicorn, its MQTT ingest, SQLite,
logins on) and the real edge runtime. A scripted detector sees a stall once the camera's
packet ring holds more than ``pre_s``; the case starts; ``post_s`` later the edge cuts the
clip from its ring (no re-encode), records it in its signed chain and uploads it in chunks
as its edge account. The server stores it as evidence of kind ``clip``; PyAV plays it (frame
count and duration ~ pre_s + post_s) and the case's chain verification passes.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import av
import pytest

from civicwatch.services import MosquittoProcess
from contracts import ZoneEvent
from contracts.chain import ChainEntryKind
from edge.chain import EdgeKey
from edge.clips.config import ClipsConfig
from edge.clips.ring import PacketRing
from edge.clips.service import ClipJob, ClipService
from edge.config import EdgeConfig
from edge.control.runtime import EdgeRuntime
from server import auth, crud
from server.chain_store import register_key
from server.chain_verify.database import verify_case
from server.core.config import load_settings
from server.tables import UserRole
from tests.edge.control.support import PAVEMENT, zones_yaml
from tests.edge.test_worker_changes import StallDetector
from tests.support.live_server import LiveServer
from tests.support.rtsp_server import RtspServer, rtsp_server_available, write_test_clip

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]
EDGE = "edge-clips"
PRE_S, POST_S, FPS = 4.0, 4.0, 25


def _wait(what: Callable[[], object], timeout_s: float, message: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if what():
            return
        time.sleep(0.1)
    assert what(), message


def test_a_case_gets_a_playable_clip_whose_hash_verifies(
    tmp_path: Path, mqtt_broker: MosquittoProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    reason = rtsp_server_available()
    if reason is not None:
        pytest.skip(reason)
    clip = write_test_clip(tmp_path / "street.mp4", frames=250, size_wh=(320, 240), gop=FPS)
    zone_file = tmp_path / "cam-1.yaml"
    zone_file.write_text(zones_yaml("cam-1", PAVEMENT), encoding="utf-8")
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path / 'server.db'}",
        evidence_dir=tmp_path / "evidence",
        auth_enabled=True,
        mqtt={"host": mqtt_broker.host, "port": mqtt_broker.port, "client_id": "srv-clips"},
    )
    monkeypatch.setenv("CW_CLIPS_USER", EDGE)
    monkeypatch.setenv("CW_CLIPS_PASS", "kerb-camera-42x")
    with RtspServer(clip) as rtsp, LiveServer(settings) as server:
        _, public = EdgeKey.generate().save(tmp_path / "keys", EDGE)
        with server.state.session_factory() as session, session.begin():
            register_key(
                session,
                edge_id=EDGE,
                public_key_text=public.read_text(encoding="ascii"),
                now=datetime.now(UTC),
            )
            auth.create_user(
                session,
                username=EDGE,
                password="kerb-camera-42x",
                role=UserRole.EDGE,
                now=datetime.now(UTC),
            )
        config = EdgeConfig.model_validate(
            {
                "edge_id": EDGE,
                "mqtt": {"host": mqtt_broker.host, "port": mqtt_broker.port},
                "detector": {
                    "type": "yolo",
                    "path": str(REPO / "models/civicwatch-street-v4.onnx"),
                },
                "model_registry": None,
                "outbox_path": str(tmp_path / "outbox.db"),
                "chain": {"key_file": str(tmp_path / "keys" / f"{EDGE}.key")},
                "snapshots": {"interval_s": 0, "directory": str(tmp_path / "snapshots")},
                "clips": {
                    "enabled": True,
                    "pre_s": PRE_S,
                    "post_s": POST_S,
                    "spool_dir": str(tmp_path / "spool"),
                    "upload": {
                        "url": server.url,
                        "username_env": "CW_CLIPS_USER",
                        "password_env": "CW_CLIPS_PASS",
                        "chunk_bytes": 16 * 1024,
                    },
                },
                "cameras": [
                    {
                        "id": "cam-1",
                        "source": {"type": "rtsp", "url": rtsp.url, "decode": "all"},
                        "zones": str(zone_file),
                        "analysis_fps": 2.0,
                    }
                ],
            }
        )
        runtime = EdgeRuntime(config)
        runtime.start()
        try:
            assert runtime.clips is not None
            _wait(
                lambda: (
                    "cam-1" in runtime.rings
                    and runtime.rings["cam-1"].stats().seconds > PRE_S + 1.5
                ),
                30,
                "the packet ring filling",
            )
            runtime.worker.swap_detector(StallDetector("stall-c"))
            _wait(lambda: runtime.clips is not None and runtime.clips.uploaded, POST_S + 40, "clip")
            assert runtime.worker.publisher.wait_until_drained(20)
            records = [
                r.record
                for r in runtime.worker.chain.records()  # type: ignore[union-attr]
                if r.record.kind is ChainEntryKind.CLIP
            ]
        finally:
            runtime.stop()
        assert runtime.clips is not None
        meta = runtime.clips.written[0]
        assert list((tmp_path / "spool").glob("*.mp4")) == []  # uploaded: the spool is empty
        assert [(r.event_id, r.evidence_sha256) for r in records] == [
            (meta.event_id, [meta.sha256])
        ]
        with server.state.session_factory() as session:
            case = crud.get_case_by_event_id(session, event_id=meta.event_id)
            assert case is not None
            clips = [e for e in case.evidence if e.kind == "clip"]
            assert [(c.sha256, c.content_type) for c in clips] == [(meta.sha256, "video/mp4")]
            data = server.state.store.read(meta.sha256)
            assert hashlib.sha256(data).hexdigest() == meta.sha256
            _wait(
                lambda: (
                    not [
                        f
                        for f in verify_case(session, server.state.store, case_id=case.id).findings
                        if f.severity == "error"
                    ]
                ),
                15,
                "the case verifying",
            )
    path = tmp_path / "clip.mp4"
    path.write_bytes(data)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        duration_s = float(container.duration or 0) / 1_000_000
    # from the keyframe at or before start - pre_s (keyframes every second) to start + post_s
    assert PRE_S + POST_S - 0.2 <= duration_s <= PRE_S + POST_S + 1.2, duration_s
    assert (PRE_S + POST_S - 0.2) * FPS <= frames <= (PRE_S + POST_S + 1.2) * FPS, frames
    assert meta.late_start_s == 0.0


def _event(event_id: str = "e" * 32) -> ZoneEvent:
    from tests.contracts.chain_builders import make_event

    return make_event(event_id=event_id)


def test_no_keyframe_in_the_buffer_gives_no_clip_and_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rings = {"cam-1": PacketRing(30.0, 1 << 20)}  # nothing received yet
    service = ClipService(
        edge_id="edge-1",
        config=ClipsConfig(enabled=True, spool_dir=tmp_path / "spool"),
        rings=rings,
        chain=None,
    )
    event = _event()
    start = event.last_seen.timestamp()
    caplog.set_level(logging.WARNING)
    assert service.cut(ClipJob(start + 11, "cam-1", event.event_id, start)) is None
    assert service.cut(ClipJob(start + 11, "cam-2", event.event_id, start)) is None
    messages = [r.getMessage() for r in caplog.records]
    assert any("no clip for case" in m and "buffer is empty" in m for m in messages), messages
    assert any("keeps no stream buffer" in m for m in messages), messages
    assert list((tmp_path / "spool").iterdir()) == []
