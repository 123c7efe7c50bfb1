"""Model rollout, server side, on SQLite and PostgreSQL: files by sha256 with Range for edge
accounts, assignments with a conflict for the slower of two operators, rollback, the command
line, and the retained message on real Mosquitto for an edge that subscribes late."""

from __future__ import annotations

import hashlib
import queue
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from civicwatch.cli import main
from contracts.model_rollout import ModelAssignmentMessage
from contracts.mqtt import MqttSettings, create_client
from contracts.topics import model_topic
from server import auth
from server.core.config import load_settings
from server.core.db import utcnow
from server.evidence_store import EvidenceStore
from server.main import create_app
from server.rollout.publish import publish_assignments
from server.rollout.service import (
    AssignmentConflictError,
    RolloutError,
    assign,
    current,
    find_model,
    register_model,
    rollback,
)
from server.state import ServerState
from server.tables import UserRole

ROOT = Path(__file__).resolve().parents[3]
V4 = ROOT / "models" / "civicwatch-street-v4.onnx"
V5 = ROOT / "models" / "civicwatch-street-v5.onnx"
NOW = utcnow()


def _register(factory: sessionmaker[Session], store: EvidenceStore) -> tuple[str, str]:
    with factory() as session:
        a = register_model(
            session, store, data=V4.read_bytes(), name="street", version="4", by="op", now=NOW
        )
        b = register_model(
            session, store, data=V5.read_bytes(), name="street", version="5", by="op", now=NOW
        )
        session.commit()
        return a.sha256, b.sha256


def test_assign_conflict_and_rollback(
    session_factory: sessionmaker[Session], store: EvidenceStore
) -> None:
    v4, v5 = _register(session_factory, store)
    with session_factory() as session:
        done = assign(
            session,
            edge_ids=["edge-1"],
            model=find_model(session, "street@4"),
            seen={},
            canary=False,
            by="ann",
            now=NOW,
        )
        session.commit()
        assert done[0].revision == 1 and done[0].message.model.sha256 == v4
        assert done[0].message.model.path == f"/api/v1/models/{v4}/file"
    # two operators read revision 1; the first to write wins, the second gets a conflict
    with session_factory() as first, session_factory() as second:
        seen_first = {e: r.revision for e, r in current(first, ["edge-1"]).items()}
        seen_second = {e: r.revision for e, r in current(second, ["edge-1"]).items()}
        assign(
            first,
            edge_ids=["edge-1"],
            model=find_model(first, v5),
            seen=seen_first,
            canary=False,
            by="ann",
            now=NOW,
        )
        first.commit()
        with pytest.raises(AssignmentConflictError, match="no longer at revision 1"):
            assign(
                second,
                edge_ids=["edge-1"],
                model=find_model(second, "street@4"),
                seen=seen_second,
                canary=False,
                by="bob",
                now=NOW,
            )
        second.rollback()
    with session_factory() as session:
        row = current(session, ["edge-1"])["edge-1"]
        assert (row.revision, row.sha256, row.previous_sha256, row.assigned_by) == (
            2,
            v5,
            v4,
            "ann",
        )
        back = rollback(session, edge_id="edge-1", seen=2, by="ann", now=NOW)
        session.commit()
        assert back.message.action == "rollback" and back.message.model.sha256 == v4
        assert back.message.previous is not None and back.message.previous.sha256 == v5
        with pytest.raises(RolloutError, match="no earlier model"):
            rollback(session, edge_id="edge-9", seen=None, by="ann", now=NOW)
        with pytest.raises(RolloutError, match="no registered model 'street@9'"):
            find_model(session, "street@9")
        with pytest.raises(RolloutError, match="already registered with another file"):
            register_model(
                session, store, data=b"other", name="street", version="4", by="op", now=NOW
            )


def test_a_new_edge_assigned_twice_at_once_conflicts(
    session_factory: sessionmaker[Session], store: EvidenceStore
) -> None:
    _register(session_factory, store)
    with session_factory() as first, session_factory() as second:
        assign(
            first,
            edge_ids=["edge-2"],
            model=find_model(first, "street@4"),
            seen={},
            canary=False,
            by="ann",
            now=NOW,
        )
        first.commit()
        with pytest.raises(AssignmentConflictError, match="by someone else meanwhile"):
            assign(
                second,
                edge_ids=["edge-2"],
                model=find_model(second, "street@5"),
                seen={},
                canary=False,
                by="bob",
                now=NOW,
            )


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str], str]]:
    settings = load_settings(
        None,
        database_url=db_url,
        evidence_dir=tmp_path / "evidence",
        mqtt_enabled=False,
        auth_enabled=True,
    )
    with TestClient(create_app(settings)) as client:
        state: ServerState = client.app.state.civicwatch  # type: ignore[attr-defined]
        with state.session_factory() as session, session.begin():
            auth.create_user(
                session, username="edge-1", password="edge-pass-1234", role=UserRole.EDGE, now=NOW
            )
            auth.create_user(
                session,
                username="olga",
                password="operator-pass-1",
                role=UserRole.OPERATOR,
                now=NOW,
            )
        v4, _ = _register(state.session_factory, state.store)  # type: ignore[arg-type]
        token = client.post(
            "/api/v1/auth/login", json={"username": "edge-1", "password": "edge-pass-1234"}
        ).json()["token"]
        yield client, {"Authorization": f"Bearer {token}"}, v4


def test_model_file_whole_and_ranges(served: tuple[TestClient, dict[str, str], str]) -> None:
    client, headers, v4 = served
    data = V4.read_bytes()
    url = f"/api/v1/models/{v4}/file"
    whole = client.get(url, headers=headers)
    assert whole.status_code == 200 and hashlib.sha256(whole.content).hexdigest() == v4
    assert whole.headers["accept-ranges"] == "bytes" and whole.headers["etag"] == f'"{v4}"'
    part = client.get(url, headers={**headers, "Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == data[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
    rest = client.get(url, headers={**headers, "Range": f"bytes={len(data) - 10}-"})
    assert rest.status_code == 206 and rest.content == data[-10:]
    tail = client.get(url, headers={**headers, "Range": "bytes=-5"})
    assert tail.content == data[-5:]
    bad = client.get(url, headers={**headers, "Range": f"bytes={len(data)}-"})
    assert bad.status_code == 416 and bad.headers["content-range"] == f"bytes */{len(data)}"
    client.cookies.clear()  # the login set a session cookie
    assert client.get(url).status_code == 401
    assert client.get(f"/api/v1/models/{'0' * 64}/file", headers=headers).status_code == 404
    olga = client.post(
        "/api/v1/auth/login", json={"username": "olga", "password": "operator-pass-1"}
    ).json()["token"]
    assert client.get(url, headers={"Authorization": f"Bearer {olga}"}).status_code == 403
    listed = client.get("/api/v1/models", headers={"Authorization": f"Bearer {olga}"}).json()
    assert {f["version"] for f in listed["files"]} == {"4", "5"}


def test_edges_report_and_precision_per_model_and_camera(
    served: tuple[TestClient, dict[str, str], str],
) -> None:
    client, headers, v4 = served
    state: ServerState = client.app.state.civicwatch  # type: ignore[attr-defined]
    with state.session_factory() as session:
        assign(
            session,
            edge_ids=["edge-1"],
            model=find_model(session, v4),
            seen={},
            canary=False,
            by="ann",
            now=NOW,
        )
        session.commit()
    report = {
        "edge_id": "edge-1",
        "revision": 1,
        "state": "applied",
        "sha256": v4,
        "agreement": 0.75,
        "detail": "running street@4",
    }
    answer = client.post("/api/v1/models/status", json=report, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["reported_revision"] == 1 and answer.json()["agreement"] == 0.75
    other = client.post(
        "/api/v1/models/status", json={**report, "edge_id": "edge-2"}, headers=headers
    )
    assert other.status_code == 403
    # precision: confirmed / reviewed per model version and camera, from real cases
    from contracts.events import EvidenceKind
    from server import crud
    from server.ingest import IngestContext, dispatch
    from server.tables import ReviewVerdict
    from tests.server import builders as b

    verdicts = [
        ("cam-1", ReviewVerdict.CONFIRM),
        ("cam-1", ReviewVerdict.REJECT),
        ("cam-2", ReviewVerdict.CONFIRM),
        ("cam-2", None),
    ]
    for n, (camera_id, verdict) in enumerate(verdicts, start=1):
        frame = b.item(b.jpeg(500 + n), EvidenceKind.FRAME)
        ev = b.event(event_id=f"{n:032x}", camera_id=camera_id, evidence=[frame.ref])
        for topic, payload, kind in (
            (b.evidence_topic(frame), frame.data, "image/jpeg"),
            (b.event_topic(ev), ev.to_json(), "application/json"),
        ):
            dispatch(
                state.session_factory,
                topic,
                payload,
                b.props(kind),
                context=IngestContext(store=state.store, limits=b.UNCHAINED),
                metrics=state.metrics,
                now=NOW,
            )
        if verdict is not None:
            with state.session_factory() as session:
                case_row = crud.get_case_by_event_id(session, event_id=ev.event_id)
                assert case_row is not None
                full = crud.get_case(session, case_id=case_row.id)
                assert full is not None
                crud.review_case(
                    session, case=full, verdict=verdict, reason="r", reviewer="x", now=NOW
                )
                session.commit()
    client.cookies.clear()
    olga = client.post(
        "/api/v1/auth/login", json={"username": "olga", "password": "operator-pass-1"}
    ).json()["token"]
    rows = client.get(
        "/api/v1/models/precision", headers={"Authorization": f"Bearer {olga}"}
    ).json()
    assert [
        (r["camera_id"], r["model_version"], r["reviewed"], r["confirmed"], r["precision"])
        for r in rows
    ] == [
        ("cam-1", "1", 2, 1, 0.5),
        ("cam-2", "1", 1, 1, 1.0),
    ]


def test_the_commands(db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "server.yaml"
    config.write_text(
        yaml.safe_dump(
            {"database_url": db_url, "evidence_dir": str(tmp_path / "ev"), "mqtt_enabled": False}
        )
    )
    c = ["--config", str(config)]
    assert (
        main(["models", "register", "--file", str(V4), "--name", "street", "--version", "4", *c])
        == 0
    )
    assert (
        main(["models", "register", "--file", str(V5), "--name", "street", "--version", "5", *c])
        == 0
    )
    assert (
        main(["models", "assign", "--model", "street@4", "--edge", "edge-1", "--by", "ann", *c])
        == 0
    )
    assert (
        main(
            [
                "models",
                "assign",
                "--model",
                "street@5",
                "--edge",
                "edge-1",
                "--expect-revision",
                "1",
                *c,
            ]
        )
        == 0
    )
    capsys.readouterr()
    # an operator who still saw revision 1: conflict, nothing changes
    assert (
        main(
            [
                "models",
                "assign",
                "--model",
                "street@4",
                "--edge",
                "edge-1",
                "--expect-revision",
                "1",
                *c,
            ]
        )
        == 3
    )
    assert "conflict" in capsys.readouterr().err
    assert main(["models", "rollback", "--edge", "edge-1", *c]) == 0
    assert "back to street@4 (revision 3)" in capsys.readouterr().out
    assert main(["models", "list", *c]) == 0
    listed = capsys.readouterr().out
    assert "edge edge-1: street@4 revision 3 (rollback)" in listed
    assert "no report from the edge yet" in listed
    assert main(["models", "assign", "--model", "street@7", "--edge", "edge-1", *c]) == 2


@pytest.mark.integration
def test_a_late_edge_gets_the_retained_assignment(
    mqtt_broker: Any, session_factory: sessionmaker[Session], store: EvidenceStore
) -> None:
    _register(session_factory, store)
    settings = MqttSettings(
        host=mqtt_broker.host, port=mqtt_broker.port, client_id=f"srv-{uuid.uuid4().hex[:8]}"
    )
    edge = f"edge-{uuid.uuid4().hex[:6]}"
    with session_factory() as session:
        done = assign(
            session,
            edge_ids=[edge],
            model=find_model(session, "street@5"),
            seen={},
            canary=True,
            by="ann",
            now=NOW,
        )
        session.commit()
    publish_assignments(settings, [d.message for d in done])
    got: queue.Queue[bytes] = queue.Queue()
    client = create_client(settings, client_id=f"late-{uuid.uuid4().hex[:8]}")
    client.on_connect = lambda c, *_: c.subscribe(model_topic(edge), qos=1)
    client.on_message = lambda _c, _u, message: got.put(bytes(message.payload))
    client.loop_start()
    try:
        message = ModelAssignmentMessage.from_json(got.get(timeout=10))
    finally:
        client.disconnect()
        client.loop_stop()
    assert message.edge_id == edge and message.revision == 1 and message.canary
    assert message.model.version == "5"


def test_a_group_is_the_edges_of_a_unit_and_below_with_a_canary_first(
    db_url: str,
    session_factory: sessionmaker[Session],
    store: EvidenceStore,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from server.org.tables import Camera, Unit, UnitLevel
    from server.rollout.service import edges_of_unit

    with session_factory() as session, session.begin():
        session.add_all(
            [
                Unit(
                    id="district",
                    name="区",
                    name_en="District",
                    level=UnitLevel.DISTRICT,
                    parent_id=None,
                ),
                Unit(
                    id="street-a",
                    name="甲",
                    name_en="A",
                    level=UnitLevel.STREET,
                    parent_id="district",
                ),
                Unit(
                    id="street-b",
                    name="乙",
                    name_en="B",
                    level=UnitLevel.STREET,
                    parent_id="district",
                ),
            ]
        )
        session.flush()
        for n, (edge, unit) in enumerate(
            [
                ("edge-a1", "street-a"),
                ("edge-a2", "street-a"),
                ("edge-b1", "street-b"),
                ("edge-a1", "street-a"),
            ]
        ):
            session.add(
                Camera(
                    edge_id=edge, camera_id=f"cam-{n}", name=f"c{n}", unit_id=unit, created_at=NOW
                )
            )
    with session_factory() as session:
        assert edges_of_unit(session, "district") == ["edge-a1", "edge-a2", "edge-b1"]
        assert edges_of_unit(session, "street-a") == ["edge-a1", "edge-a2"]
        assert edges_of_unit(session, "nowhere") == []
    config = tmp_path / "server.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database_url": db_url,
                "evidence_dir": str(tmp_path / "evidence"),
                "mqtt_enabled": False,
            }
        )
    )
    c = ["--config", str(config)]
    assert (
        main(["models", "register", "--file", str(V4), "--name", "street", "--version", "4", *c])
        == 0
    )
    assert (
        main(
            [
                "models",
                "assign",
                "--model",
                "street@4",
                "--group",
                "district",
                "--canary",
                "edge-b1",
                *c,
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "edge edge-b1: street@4 (revision 1)" in out and "edge-a1" not in out
    assert main(["models", "assign", "--model", "street@4", "--group", "district", *c]) == 0
    out = capsys.readouterr().out
    assert all(f"edge {e}: street@4" in out for e in ("edge-a1", "edge-a2", "edge-b1"))
    assert (
        main(
            [
                "models",
                "assign",
                "--model",
                "street@4",
                "--group",
                "district",
                "--canary",
                "edge-x",
                *c,
            ]
        )
        == 2
    )
