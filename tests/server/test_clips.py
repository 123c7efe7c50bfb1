"""Issue 20: event clips uploaded by an edge over HTTP (SQLite and PostgreSQL).

A real MP4 goes up in chunks as the edge's account; a chunk at the wrong offset gets 409
with what the server holds (the edge resumes from there); the last chunk makes the clip
evidence of kind ``clip`` of the case, served back as ``video/mp4``. A second upload is
idempotent; a wrong hash, a non-MP4, another edge's case and a non-edge login are refused.
The case's chain verification checks the stored clip against its ``clip`` record.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient

from contracts import topics
from contracts.events import ZoneEvent
from server import auth, chain_store, crud
from server.chain_verify.database import verify_case
from server.core.config import load_settings
from server.ingest import IngestContext, dispatch
from server.main import create_app
from server.state import ServerState
from server.tables import UserRole
from tests.contracts.chain_builders import Signer, edge_messages
from tests.server import builders as b
from tests.server.conftest import NOW

PASSWORDS = {"edge-1": "edge-one-pass-1", "edge-2": "edge-two-pass-2", "olga": "operator-pass-1"}
ROLES = {"edge-1": UserRole.EDGE, "edge-2": UserRole.EDGE, "olga": UserRole.OPERATOR}


def _mp4(frames: int = 30) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            image = np.full((48, 64, 3), i * 8 % 256, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buffer.getvalue()


CLIP = _mp4()
SHA = hashlib.sha256(CLIP).hexdigest()


class Setup:
    def __init__(self, client: TestClient, signer: Signer, event: ZoneEvent) -> None:
        self.client = client
        self.signer = signer
        self.event = event
        self.state: ServerState = client.app.state.civicwatch  # type: ignore[attr-defined]

    def dispatch(self, topic: str, payload: bytes, content_type: str) -> None:
        dispatch(
            self.state.session_factory,
            topic,
            payload,
            b.props(content_type),
            context=IngestContext(store=self.state.store, limits=b.UNCHAINED),
            metrics=self.state.metrics,
            now=NOW,
        )

    def login(self, name: str) -> dict[str, str]:
        response = self.client.post(
            "/api/v1/auth/login", json={"username": name, "password": PASSWORDS[name]}
        )
        assert response.status_code == 200, response.text
        self.client.cookies.clear()
        return {"Authorization": f"Bearer {response.json()['token']}"}

    def put(
        self,
        headers: dict[str, str],
        chunk: bytes,
        offset: int,
        *,
        sha: str = SHA,
        total: int = len(CLIP),
    ) -> tuple[int, dict[str, object]]:
        response = self.client.put(
            f"/api/v1/evidence/clips/{sha}",
            params={
                "event_id": self.event.event_id,
                "offset": offset,
                "total": total,
                "captured_at": "2026-11-27T02:00:00Z",
            },
            content=chunk,
            headers={**headers, "Content-Type": "application/octet-stream"},
        )
        return response.status_code, response.json()


@pytest.fixture
def setup(db_url: str, tmp_path: Path) -> Iterator[Setup]:
    settings = load_settings(
        None,
        database_url=db_url,
        evidence_dir=tmp_path / "evidence",
        mqtt_enabled=False,
        auth_enabled=True,
    )
    with TestClient(create_app(settings)) as client:
        state: ServerState = client.app.state.civicwatch  # type: ignore[attr-defined]
        signer = Signer()
        pem = signer.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        with state.session_factory() as session, session.begin():
            for name, password in PASSWORDS.items():
                auth.create_user(
                    session, username=name, password=password, role=ROLES[name], now=NOW
                )
            chain_store.register_key(
                session, edge_id=signer.edge_id, public_key_text=pem.decode(), now=NOW
            )
        event, messages = edge_messages(signer, seed="clip")
        built = Setup(client, signer, event)
        for m in messages:
            built.dispatch(m.topic, m.payload, m.content_type)
        yield built


def test_a_clip_goes_up_in_chunks_resumes_and_verifies(setup: Setup) -> None:
    edge = setup.login("edge-1")
    third = len(CLIP) // 3
    assert setup.put(edge, CLIP[:third], 0) == (
        200,
        {"sha256": SHA, "received": third, "complete": False},
    )
    status, body = setup.put(edge, CLIP[third:], 0)  # a retry from the start: where to go on
    assert status == 409 and body["detail"]["received"] == third  # type: ignore[index]
    assert setup.put(edge, CLIP[third:], third) == (
        200,
        {"sha256": SHA, "received": len(CLIP), "complete": True},
    )
    assert setup.put(edge, CLIP, 0)[1]["complete"] is True  # idempotent by sha256
    operator = setup.login("olga")
    served = setup.client.get(f"/api/v1/evidence/{SHA}", headers=operator)
    assert served.status_code == 200 and served.content == CLIP
    assert served.headers["content-type"] == "video/mp4"
    with setup.state.session_factory() as session:
        case = crud.get_case_by_event_id(session, event_id=setup.event.event_id)
        assert case is not None
        clips = [e for e in case.evidence if e.kind == "clip"]
        assert [(c.sha256, c.content_type, c.byte_size) for c in clips] == [
            (SHA, "video/mp4", len(CLIP))
        ]
        case_id = case.id
    # the edge's clip record fixes the hash: the case verifies, a changed file does not
    record = setup.signer.record(
        setup.event, kind="clip", phase=None, event_sha256=None, evidence_sha256=[SHA]
    )
    setup.dispatch(
        topics.chain_topic("edge-1", record.record.seq), record.to_json(), "application/json"
    )
    with setup.state.session_factory() as session:
        report = verify_case(session, setup.state.store, case_id=case_id)
        assert [f for f in report.findings if f.severity == "error"] == []
    path = setup.state.settings.evidence_dir / SHA[:2] / SHA[2:4] / SHA
    path.write_bytes(CLIP[:-1] + b"\x00")
    with setup.state.session_factory() as session:
        report = verify_case(session, setup.state.store, case_id=case_id)
        assert any(SHA in str(f) for f in report.findings if f.severity == "error"), report.findings


def test_bad_uploads_are_refused(setup: Setup) -> None:
    edge = setup.login("edge-1")
    status, body = setup.put(edge, b"x" * 100, 0, sha="a" * 64, total=100)
    assert status == 422 and "hashes to" in str(body["detail"])
    not_mp4 = b"not an mp4 at all"
    status, body = setup.put(
        edge, not_mp4, 0, sha=hashlib.sha256(not_mp4).hexdigest(), total=len(not_mp4)
    )
    assert (status, body["detail"]) == (422, "the clip is not an MP4")
    status, body = setup.put(edge, b"x" * 10, 0, total=5)
    assert status == 422 and "more than the total" in str(body["detail"])
    other = setup.login("edge-2")
    status, body = setup.put(other, CLIP, 0)
    assert status == 404 and "from edge edge-2" in str(body["detail"])
    assert setup.put(setup.login("olga"), CLIP, 0)[0] == 403
    assert setup.client.put(f"/api/v1/evidence/clips/{SHA}", content=CLIP).status_code == 401
