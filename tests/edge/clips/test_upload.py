"""The clip uploader against the real server (uvicorn, SQLite, logins on): it resumes where the
server's copy ends, refuses for good what the server will never take, and says when the
server cannot be reached."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from contracts.events import ZoneEvent
from edge.clips.config import ClipUploadConfig
from edge.clips.upload import ClipMeta, ClipUploader, UploadError, UploadRefusedError
from server import auth, chain_store, crud
from server.core.config import load_settings
from server.ingest import IngestContext, dispatch
from server.tables import UserRole
from tests.contracts.chain_builders import Signer, edge_messages
from tests.server import builders as b
from tests.server.test_clips import CLIP, SHA
from tests.support.live_server import LiveServer

PASSWORD = "kerb-camera-42x"
NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[LiveServer, ZoneEvent]]:
    settings = load_settings(
        None,
        database_url=f"sqlite:///{tmp_path / 'server.db'}",
        evidence_dir=tmp_path / "evidence",
        mqtt_enabled=False,
        auth_enabled=True,
    )
    with LiveServer(settings) as live:
        state = live.state
        signer = Signer()
        pem = signer.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        with state.session_factory() as session, session.begin():
            auth.create_user(
                session, username=signer.edge_id, password=PASSWORD, role=UserRole.EDGE, now=NOW
            )
            chain_store.register_key(
                session, edge_id=signer.edge_id, public_key_text=pem.decode(), now=NOW
            )
        event, messages = edge_messages(signer, seed="upload")
        for m in messages:
            dispatch(
                state.session_factory,
                m.topic,
                m.payload,
                b.props(m.content_type),
                context=IngestContext(store=state.store, limits=b.UNCHAINED),
                metrics=state.metrics,
                now=NOW,
            )
        yield live, event


def _meta(event: ZoneEvent, data: bytes) -> ClipMeta:
    return ClipMeta(
        edge_id=event.edge_id,
        camera_id=event.camera_id,
        event_id=event.event_id,
        sha256=hashlib.sha256(data).hexdigest(),
        byte_size=len(data),
        captured_at=NOW,
        duration_s=3.0,
        packets=30,
        late_start_s=0.0,
    )


def _uploader(url: str, monkeypatch: pytest.MonkeyPatch, chunk: int = 16 * 1024) -> ClipUploader:
    monkeypatch.setenv("CW_UP_USER", "edge-1")
    monkeypatch.setenv("CW_UP_PASS", PASSWORD)
    config = ClipUploadConfig(
        url=url, username_env="CW_UP_USER", password_env="CW_UP_PASS", chunk_bytes=chunk
    )
    return ClipUploader(config)


def test_an_upload_resumes_where_the_server_copy_ends(
    server: tuple[LiveServer, ZoneEvent], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live, event = server
    path = tmp_path / f"{SHA}.mp4"
    path.write_bytes(CLIP)
    uploader = _uploader(live.url, monkeypatch)
    # an earlier attempt got the first 1000 bytes through before the link broke
    token = httpx.post(
        f"{live.url}/api/v1/auth/login", json={"username": "edge-1", "password": PASSWORD}
    ).json()["token"]
    first = httpx.put(
        f"{live.url}/api/v1/evidence/clips/{SHA}",
        params={
            "event_id": event.event_id,
            "offset": 0,
            "total": len(CLIP),
            "captured_at": NOW.isoformat(),
        },
        content=CLIP[:1000],
        headers={"Authorization": f"Bearer {token}"},
    )
    assert first.json()["received"] == 1000
    uploader.upload(_meta(event, CLIP), path)
    with live.state.session_factory() as session:
        case = crud.get_case_by_event_id(session, event_id=event.event_id)
        assert case is not None
        assert [(e.sha256, e.kind) for e in case.evidence if e.kind == "clip"] == [(SHA, "clip")]
    assert live.state.store.read(SHA) == CLIP
    uploader.upload(_meta(event, CLIP), path)  # again: the server has it, nothing is sent twice


def test_what_the_server_never_takes_and_a_server_that_is_away(
    server: tuple[LiveServer, ZoneEvent], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live, event = server
    path = tmp_path / "clip.mp4"
    path.write_bytes(CLIP)
    wrong = _meta(event, CLIP).model_copy(update={"sha256": "0" * 64})
    with pytest.raises(UploadRefusedError, match="hashes to"):
        _uploader(live.url, monkeypatch, chunk=1 << 20).upload(wrong, path)
    unknown = _meta(event, CLIP).model_copy(update={"event_id": "f" * 32})
    with pytest.raises(UploadError, match="404"):
        _uploader(live.url, monkeypatch).upload(unknown, path)
    with pytest.raises(UploadError, match="not reached"):
        _uploader("http://127.0.0.1:9", monkeypatch).upload(_meta(event, CLIP), path)
    monkeypatch.setenv("CW_UP_PASS", "not-the-password-7")
    config = ClipUploadConfig(url=live.url, username_env="CW_UP_USER", password_env="CW_UP_PASS")
    with pytest.raises(UploadError, match="login as edge-1 refused"):
        ClipUploader(config).upload(_meta(event, CLIP), path)
