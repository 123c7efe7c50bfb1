"""The edge side of the rollout against a real server over HTTP: fetch (whole, resumed after
a cut, refused, not matching its hash), and a real EdgeWorker that gets the assigned model
swapped in, keeps its model when the file does not verify, and rolls back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from contracts.model_rollout import AssignedModel
from edge.config import EdgeConfig
from edge.detectors import create_detector
from edge.detectors.plugins.yolo import YoloConfig
from edge.rollout.controller import ModelRollout, RolloutSettings, agreement
from edge.rollout.download import ModelFetchError, fetch_model
from edge.types import Detections
from edge.worker import EdgeWorker
from server import auth
from server.core.config import load_settings
from server.core.db import utcnow
from server.rollout.service import assign, find_model, register_model, rollback
from server.tables import UserRole
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
V4 = REPO / "models" / "civicwatch-street-v4.onnx"
V5 = REPO / "models" / "civicwatch-street-v5.onnx"
NAMES = ("person", "car", "truck", "stall", "goods", "bare_soil", "dust_net")
PAVEMENT = {
    "id": "pavement",
    "name": "Pavement",
    "kind": "no_vending",
    "polygon": [[0.0, 0.5], [1.0, 0.5], [1.0, 1.0], [0.0, 1.0]],
    "objects": ["stall"],
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[LiveServer, str]]:
    settings = load_settings(
        None,
        database_url=f"sqlite:///{tmp_path / 'server.db'}",
        evidence_dir=tmp_path / "evidence",
        mqtt_enabled=False,
        auth_enabled=True,
    )
    with LiveServer(settings) as live:
        now = utcnow()
        with live.state.session_factory() as session, session.begin():
            auth.create_user(
                session, username="edge-1", password="edge-pass-1234", role=UserRole.EDGE, now=now
            )
        with live.state.session_factory() as session:
            for path, version in ((V4, "4"), (V5, "5")):
                register_model(
                    session,
                    live.state.store,
                    data=path.read_bytes(),
                    name="street",
                    version=version,
                    by="op",
                    now=now,
                )
            session.commit()
        login = httpx.post(
            f"{live.url}/api/v1/auth/login",
            json={"username": "edge-1", "password": "edge-pass-1234"},
        )
        yield live, str(login.json()["token"])


def _assigned(live: LiveServer, ref: str) -> AssignedModel:
    from server.rollout.service import model_path

    with live.state.session_factory() as session:
        row = find_model(session, ref)
        return AssignedModel(
            name=row.name,
            version=row.version,
            sha256=row.sha256,
            size_bytes=row.size_bytes,
            path=model_path(row.sha256),
        )


def test_fetch_whole_resumed_refused_and_mismatched(
    server: tuple[LiveServer, str], tmp_path: Path
) -> None:
    live, token = server
    v4 = _assigned(live, "street@4")
    fetched = fetch_model(live.url, token, v4, tmp_path / "a")
    assert fetched.path.read_bytes() == V4.read_bytes() and fetched.resumed_from == 0
    # a transfer cut halfway: the next attempt asks for the rest only
    half = tmp_path / "b" / f"{v4.sha256}.part"
    half.parent.mkdir()
    half.write_bytes(V4.read_bytes()[: v4.size_bytes // 2])
    resumed = fetch_model(live.url, token, v4, tmp_path / "b")
    assert resumed.resumed_from == v4.size_bytes // 2
    assert resumed.path.read_bytes() == V4.read_bytes() and not half.exists()
    # the bytes of v4 under another hash: discarded, nothing left to load
    wrong = v4.model_copy(update={"sha256": "ab" * 32})
    with pytest.raises(ModelFetchError, match="does not match"):
        fetch_model(live.url, token, wrong, tmp_path / "c")
    assert list((tmp_path / "c").iterdir()) == []
    longer = v4.model_copy(update={"size_bytes": v4.size_bytes + 1})
    with pytest.raises(ModelFetchError, match="bytes, the assignment says"):
        fetch_model(live.url, token, longer, tmp_path / "c")
    with pytest.raises(ModelFetchError, match="HTTP 401"):
        fetch_model(live.url, "not-a-token", v4, tmp_path / "d", attempts=1)
    with pytest.raises(ModelFetchError, match="after 2 attempts"):
        fetch_model("http://127.0.0.1:9", token, v4, tmp_path / "e", attempts=2, backoff_s=0.01)


def _worker(tmp_path: Path) -> EdgeWorker:
    zone_file = tmp_path / "cam-1.yaml"
    zone_file.write_text(json.dumps({"camera_id": "cam-1", "zones": [PAVEMENT]}), "utf-8")
    config = EdgeConfig.model_validate(
        {
            "edge_id": "edge-1",
            "detector": {"type": "yolo", "path": str(V5)},
            "outbox_path": str(tmp_path / "outbox.db"),
            "cameras": [
                {
                    "id": "cam-1",
                    "source": {"type": "file", "path": str(tmp_path / "none.mp4")},
                    "zones": str(zone_file),
                }
            ],
        }
    )
    return EdgeWorker(config)


def test_assignments_swap_keep_and_roll_back(
    server: tuple[LiveServer, str], tmp_path: Path
) -> None:
    live, token = server
    worker = _worker(tmp_path)
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 255, (360, 640, 3), dtype=np.uint8) for _ in range(3)]
    rollout = ModelRollout(
        RolloutSettings(
            edge_id="edge-1",
            server_url=live.url,
            token=token,
            models_dir=tmp_path / "models",
            state_file=tmp_path / "rollout.json",
            compare_pause_s=0.0,
        ),
        worker,
        current=lambda: worker.pipeline("cam-1").detector,
        samples=lambda: frames,
        load=lambda path: create_detector(YoloConfig(path=path)),
    )
    factory = live.state.session_factory
    with factory() as session:
        (first,) = assign(
            session,
            edge_ids=["edge-1"],
            model=find_model(session, "street@4"),
            seen={},
            canary=True,
            by="ann",
            now=utcnow(),
        )
        session.commit()
    try:
        done = rollout.apply(first.message.to_json())
        assert (
            done.state == "applied" and done.agreement is not None and 0.0 <= done.agreement <= 1.0
        )
        assert worker.pipeline("cam-1").detector.model.sha256 == first.message.model.sha256
        assert json.loads((tmp_path / "rollout.json").read_text())["applied_revision"] == 1
        assert rollout.apply(first.message.to_json()).state == "skipped"  # retained again
        other = first.message.model_copy(update={"edge_id": "edge-2", "revision": 5})
        assert rollout.apply(other.to_json()).state == "skipped"
        # revision 2 names a file whose bytes are not what it says: the v4 model stays
        bad = first.message.model_copy(
            update={
                "revision": 2,
                "model": first.message.model.model_copy(
                    update={"size_bytes": first.message.model.size_bytes + 7}
                ),
            }
        )
        failed = rollout.apply(bad.to_json())
        assert failed.state == "failed" and "bytes" in failed.detail
        assert worker.pipeline("cam-1").detector.model.sha256 == first.message.model.sha256
        state = json.loads((tmp_path / "rollout.json").read_text())
        assert state["applied_revision"] == 1 and state["last"]["state"] == "failed"
        assert rollout.apply(b"{not json").state == "failed"
        # assigned v5, then rolled back to v4, the same way
        with factory() as session:
            (second,) = assign(
                session,
                edge_ids=["edge-1"],
                model=find_model(session, "street@5"),
                seen={"edge-1": 1},
                canary=False,
                by="ann",
                now=utcnow(),
            )
            back = rollback(session, edge_id="edge-1", seen=2, by="ann", now=utcnow())
            session.commit()
        assert second.revision == 2 and back.revision == 3
        assert rollout.apply(second.message.to_json()).state == "applied"
        assert worker.pipeline("cam-1").detector.model.sha256 == second.message.model.sha256
        rolled = rollout.apply(back.message.to_json())
        assert rolled.state == "applied" and "rolled back to street@4" in rolled.detail
        assert worker.pipeline("cam-1").detector.model.sha256 == first.message.model.sha256
    finally:
        worker.outbox.close()


def test_agreement() -> None:
    def det(*boxes: tuple[int, float]) -> Detections:
        return Detections(
            xyxy=np.array([[x, 0, x + 10, 10] for _, x in boxes], np.float32).reshape(-1, 4),
            confidence=np.ones(len(boxes), np.float32),
            class_id=np.array([c for c, _ in boxes], np.int64),
            names=NAMES,
        )

    assert agreement([det()], [det()]) == 1.0
    assert agreement([det((3, 0))], [det((3, 1))]) == 1.0
    assert agreement([det((3, 0))], [det((4, 0))]) == 0.0
    assert agreement([det((3, 0), (3, 50))], [det((3, 0))]) == 0.5
