"""The lifecycle over HTTP, three levels of accounts, on SQLite and PostgreSQL.

A street reviewer confirms, the district dispatcher dispatches to the street's team, the
team uploads real photos, the dispatcher sends it back, accepts the second disposal and
closes; reopen, overdue, escalation, scoping (404 for another street's case), the file
chain and its tamper detection.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import select, text

from contracts.events import EvidenceKind
from server import crud
from server.core.db import utcnow
from server.lifecycle.overdue import check_overdue
from server.lifecycle.tables import CaseFileRecord, CaseTransition
from tests.server import builders as b
from tests.server.conftest import NOW
from tests.server.lifecycle.conftest import NJD, Center

cv2 = pytest.importorskip("cv2", reason="OpenCV encodes the disposal photos")


def photo(ext: str, seed: int, size_wh: tuple[int, int] = (96, 64)) -> bytes:
    image = np.random.default_rng(seed).integers(0, 255, (size_wh[1], size_wh[0], 3), np.uint8)
    ok, data = cv2.imencode(ext, image)
    assert ok
    return bytes(data.tobytes())


def _cases(center: Center) -> tuple[int, int, int]:
    njd = center.case("a" * 32, edge_id="demo-edge", camera_id="demo-cam", violation="street_stall")
    bund = center.case(
        "b" * 32, edge_id="bund-edge", camera_id="bund-cam-1", violation="cross_door"
    )
    stray = center.case("c" * 32, edge_id="x-edge", camera_id="x-cam", violation="muck_truck")
    return njd, bund, stray


def _confirm(center: Center, case_id: int, who: str = "njd-rev") -> None:
    response = center.client.post(
        f"/api/v1/cases/{case_id}/review",
        headers=center.as_(who),
        json={"verdict": "confirm", "reason": "清楚", "override_chain": True},
    )
    assert response.status_code == 200, response.text


def _post(center: Center, who: str, path: str, body: Mapping[str, object]) -> tuple[int, Any]:
    response = center.client.post(f"/api/v1/cases/{path}", headers=center.as_(who), json=body)
    return response.status_code, response.json()


def _dispose(
    center: Center, who: str, case_id: int, files: list[tuple[str, bytes, str]]
) -> httpx.Response:
    response: httpx.Response = center.client.post(
        f"/api/v1/cases/{case_id}/disposals",
        headers=center.as_(who),
        data={"note": "摊位已清理"},
        files=[("photos", item) for item in files],
    )
    return response


def test_a_case_walks_from_candidate_to_closed(center: Center) -> None:
    njd, _, _ = _cases(center)
    _confirm(center, njd)
    # A reviewer may not dispatch; a team outside the case's street is refused.
    assert _post(center, "njd-rev", f"{njd}/dispatch", {"team_unit_id": f"{NJD}-team1"})[0] == 403
    status, body = _post(
        center, "hp-disp", f"{njd}/dispatch", {"team_unit_id": "sh-huangpu-waitan-team1"}
    )
    assert status == 422 and "not under the case's unit" in body["detail"][0]["msg"]
    before = utcnow()
    status, body = _post(center, "hp-disp", f"{njd}/dispatch", {"team_unit_id": f"{NJD}-team1"})
    assert status == 200, body
    assert isinstance(body, dict) and body["status"] == "dispatched"
    deadline = datetime.fromisoformat(body["deadline_at"])
    assert before + timedelta(hours=2) <= deadline <= utcnow() + timedelta(hours=2)  # street_stall
    assert body["team_unit_id"] == f"{NJD}-team1" and body["unit_id"] == NJD
    assert body["unit_name"] == "南京东路街道" and body["overdue"] is False

    # The team of another street does not see it; the street's team uploads photos.
    assert (
        _dispose(center, "wt-team", njd, [("p.jpg", photo(".jpg", 1), "image/jpeg")]).status_code
        == 404
    )
    assert (
        _dispose(center, "hp-disp", njd, [("p.jpg", photo(".jpg", 1), "image/jpeg")]).status_code
        == 403
    )
    first = _dispose(
        center,
        "njd-team",
        njd,
        [
            ("before.jpg", photo(".jpg", 1), "image/jpeg"),
            ("after.png", photo(".png", 2), "image/png"),
        ],
    )
    assert first.status_code == 201, first.text
    detail = first.json()
    assert detail["status"] == "disposed"
    photos = detail["disposals"][0]["photos"]
    assert [p["content_type"] for p in photos] == ["image/jpeg", "image/png"]
    assert [(p["width"], p["height"]) for p in photos] == [(96, 64), (96, 64)]

    # Sent back (a note is required), disposed again, accepted, closed.
    status, body = _post(center, "hp-disp", f"{njd}/verify", {"accepted": False})
    assert status == 422 and "needs a note" in body["detail"][0]["msg"]
    status, body = _post(
        center, "hp-disp", f"{njd}/verify", {"accepted": False, "note": "照片不清"}
    )
    assert status == 200 and body["status"] == "dispatched"
    second = _dispose(center, "njd-team", njd, [("again.jpg", photo(".jpg", 3), "image/jpeg")])
    assert second.status_code == 201
    assert _post(center, "hp-disp", f"{njd}/close", {})[0] == 409  # not verified yet
    assert _post(center, "hp-disp", f"{njd}/verify", {"accepted": True})[1]["status"] == "verified"
    status, body = _post(center, "hp-disp", f"{njd}/close", {"note": "结案"})
    assert status == 200 and body["status"] == "closed" and body["closed_at"]
    status, body = _post(center, "hp-disp", f"{njd}/close", {})
    assert status == 409 and "cannot close a closed case" in body["detail"]

    actions = [
        t["action"]
        for t in center.client.get(
            f"/api/v1/cases/{njd}/transitions", headers=center.as_("njd-rev")
        ).json()
    ]
    assert actions == ["confirm", "dispatch", "dispose", "send_back", "dispose", "verify", "close"]
    detail = center.client.get(f"/api/v1/cases/{njd}", headers=center.as_("chief")).json()
    assert [t["actor"] for t in detail["transitions"]][:2] == ["njd-rev", "hp-disp"]
    assert len(detail["disposals"]) == 2

    # The file chain proves it all; the photos are served to those in scope only.
    chain = center.client.get(f"/api/v1/cases/{njd}/file-chain", headers=center.as_("hp-disp"))
    assert chain.status_code == 200 and chain.json()["ok"] is True, chain.json()
    kinds = [r["kind"] for r in chain.json()["records"]]
    assert kinds.count("disposal") == 2 and len(kinds) == 9
    sha = photos[1]["sha256"]
    served = center.client.get(f"/api/v1/evidence/{sha}", headers=center.as_("njd-team"))
    assert served.status_code == 200 and served.headers["content-type"] == "image/png"
    assert served.content == photo(".png", 2)
    assert (
        center.client.get(f"/api/v1/evidence/{sha}", headers=center.as_("wt-rev")).status_code
        == 404
    )

    # Reopen to the same team with a new deadline.
    status, body = _post(
        center, "hp-disp", f"{njd}/reopen", {"reason": "又出摊", "to": "dispatched"}
    )
    assert status == 200 and body["status"] == "dispatched" and body["closed_at"] is None


def test_scope_hides_other_streets_cases(center: Center) -> None:
    njd, bund, stray = _cases(center)

    def listed(who: str, query: str = "") -> set[int]:
        response = center.client.get(f"/api/v1/cases{query}", headers=center.as_(who))
        assert response.status_code == 200, response.text
        return {item["id"] for item in response.json()["items"]}

    assert listed("chief") == {njd, bund, stray}
    assert listed("hp-disp") == {njd, bund}
    assert listed("njd-rev") == {njd}
    assert listed("wt-rev") == {bund}
    assert listed("njd-team") == set()  # nothing dispatched to it yet
    assert listed("chief", f"?unit_id={NJD}") == {njd}
    assert listed("wt-rev", f"?unit_id={NJD}") == set()
    for who, case_id in (("wt-rev", njd), ("njd-rev", bund), ("njd-rev", stray)):
        assert (
            center.client.get(f"/api/v1/cases/{case_id}", headers=center.as_(who)).status_code
            == 404
        )
        review = {"verdict": "reject", "reason": "x"}
        assert _post(center, who, f"{case_id}/review", review)[0] == 404
        assert _post(center, who, f"{case_id}/escalate", {"note": "x"})[0] == 404
        # The review labels of a case (issue 18) follow the same rule.
        labels = center.client.get(f"/api/v1/cases/{case_id}/labels", headers=center.as_(who))
        assert labels.status_code == 404
        box = {
            "action": "add",
            "class_name": "goods",
            "box": {"x1": 0.1, "y1": 0.1, "x2": 0.5, "y2": 0.5},
        }
        assert _post(center, who, f"{case_id}/labels/boxes", box)[0] == 404
    # A case id that does not exist answers the same.
    missing = center.client.get("/api/v1/cases/999999", headers=center.as_("wt-rev"))
    assert missing.status_code == 404
    stray_detail = center.client.get(f"/api/v1/cases/{stray}", headers=center.as_("chief")).json()
    assert stray_detail["unit_id"] is None and stray_detail["unit_name"] is None
    # Units: a street reviewer sees its own subtree; another street's unit is 404.
    tree = center.client.get("/api/v1/units", headers=center.as_("njd-rev")).json()
    assert [root["id"] for root in tree["roots"]] == [NJD]
    assert [child["id"] for child in tree["roots"][0]["children"]] == [f"{NJD}-team1"]
    assert tree["roots"][0]["cameras"] == 1
    assert (
        center.client.get("/api/v1/units/sh-jingan", headers=center.as_("njd-rev")).status_code
        == 404
    )
    whole = center.client.get("/api/v1/units?outlines=true", headers=center.as_("chief")).json()
    assert whole["roots"][0]["id"] == "sh" and whole["roots"][0]["outline"]["type"] == "Polygon"


def test_illegal_moves_answer_409(center: Center) -> None:
    njd, _, _ = _cases(center)
    team = {"team_unit_id": f"{NJD}-team1"}
    status, body = _post(center, "hp-disp", f"{njd}/dispatch", team)
    assert status == 409 and "cannot dispatch a candidate case" in body["detail"]
    assert _post(center, "hp-disp", f"{njd}/verify", {"accepted": True})[0] == 409
    assert _post(center, "hp-disp", f"{njd}/reopen", {"reason": "x"})[0] == 409
    assert (
        _dispose(center, "njd-team", njd, [("p.jpg", photo(".jpg", 1), "image/jpeg")]).status_code
        == 404
    )
    status, body = _post(
        center, "njd-rev", f"{njd}/review", {"verdict": "reject", "reason": "不是"}
    )
    assert status == 200
    status, body = _post(center, "hp-disp", f"{njd}/reopen", {"reason": "复查", "to": "dispatched"})
    assert status == 409 and "never dispatched" in body["detail"]
    status, body = _post(center, "hp-disp", f"{njd}/reopen", {"reason": "复查"})
    assert status == 200 and body["status"] == "candidate"
    past = (utcnow() - timedelta(minutes=1)).isoformat()
    _confirm(center, njd)
    status, body = _post(center, "hp-disp", f"{njd}/dispatch", {**team, "deadline_at": past})
    assert status == 422 and "future" in body["detail"][0]["msg"]
    naive = {**team, "deadline_at": "2030-01-01T08:00:00"}
    assert _post(center, "hp-disp", f"{njd}/dispatch", naive)[0] == 422


def test_disposal_photos_are_checked(center: Center) -> None:
    njd, _, _ = _cases(center)
    _confirm(center, njd)
    assert _post(center, "hp-disp", f"{njd}/dispatch", {"team_unit_id": f"{NJD}-team1"})[0] == 200
    cases = [
        ([("a.txt", b"just some words, not a picture", "image/jpeg")], 415, "JPEG or PNG"),
        ([("big.png", photo(".png", 9, (400, 300)), "image/png")], 413, "at most 60000 bytes"),
        ([("cut.jpg", photo(".jpg", 1)[:-300], "image/jpeg")], 422, "not a complete JPEG"),
        ([("p.jpg", photo(".jpg", s), "image/jpeg") for s in range(4)], 422, "at most 3 photos"),
    ]
    for files, status, message in cases:
        response = _dispose(center, "njd-team", njd, files)
        assert response.status_code == status, response.text
        assert message in response.text
    no_photo = center.client.post(
        f"/api/v1/cases/{njd}/disposals", headers=center.as_("njd-team"), data={"note": "x"}
    )
    assert no_photo.status_code == 422
    detail = center.client.get(f"/api/v1/cases/{njd}", headers=center.as_("njd-team")).json()
    assert detail["status"] == "dispatched" and detail["disposals"] == []


def test_overdue_is_marked_once_and_filterable(center: Center) -> None:
    njd, bund, _ = _cases(center)
    _confirm(center, njd)
    _post(center, "hp-disp", f"{njd}/dispatch", {"team_unit_id": f"{NJD}-team1"})
    detail = center.client.get(f"/api/v1/cases/{njd}", headers=center.as_("chief")).json()
    deadline = datetime.fromisoformat(detail["deadline_at"])
    factory = center.state.session_factory
    assert check_overdue(factory, now=deadline - timedelta(seconds=1)) == []
    assert check_overdue(factory, now=deadline) == [njd]
    assert check_overdue(factory, now=deadline + timedelta(hours=1)) == []
    listed = center.client.get("/api/v1/cases?overdue=true", headers=center.as_("hp-disp")).json()
    assert [item["id"] for item in listed["items"]] == [njd] and listed["items"][0]["overdue"]
    not_overdue = center.client.get("/api/v1/cases?overdue=false", headers=center.as_("hp-disp"))
    assert [item["id"] for item in not_overdue.json()["items"]] == [bund]
    with factory() as session:
        rows = session.scalars(
            select(CaseTransition).where(CaseTransition.action == "overdue")
        ).all()
    assert [(row.case_id, row.actor, row.from_status, row.to_status) for row in rows] == [
        (njd, "system", "dispatched", "dispatched")
    ]
    chain = center.client.get(f"/api/v1/cases/{njd}/file-chain", headers=center.as_("chief"))
    assert chain.json()["ok"] and chain.json()["records"][-1]["kind"] == "overdue"


def test_escalation_moves_the_case_up_and_out_of_the_streets_hands(center: Center) -> None:
    njd, _, _ = _cases(center)
    status, body = _post(
        center, "njd-rev", f"{njd}/review", {"verdict": "escalate", "reason": "大"}
    )
    assert status == 200 and body["status"] == "escalated"
    assert body["assigned_unit_id"] == "sh-huangpu"
    # The street still sees it but no longer decides it.
    assert (
        center.client.get(f"/api/v1/cases/{njd}", headers=center.as_("njd-rev")).status_code == 200
    )
    assert _post(center, "njd-rev", f"{njd}/review", {"verdict": "reject", "reason": "x"})[0] == 403
    _confirm(center, njd, who="chief")
    status, body = _post(center, "hp-disp", f"{njd}/escalate", {"note": "需市里协调"})
    assert status == 200 and body["assigned_unit_id"] == "sh" and body["status"] == "confirmed"
    assert _post(center, "hp-disp", f"{njd}/dispatch", {"team_unit_id": f"{NJD}-team1"})[0] == 403
    status, body = _post(center, "chief", f"{njd}/escalate", {"note": "再上"})
    assert status == 409 and "no unit above" in body["detail"]
    transitions = center.client.get(
        f"/api/v1/cases/{njd}/transitions", headers=center.as_("chief")
    ).json()
    assert [(t["action"], t["detail"].get("to_unit_id")) for t in transitions] == [
        ("escalate", "sh-huangpu"),
        ("confirm", None),
        ("escalate", "sh"),
    ]


def test_a_tampered_file_record_or_transition_or_photo_is_detected(center: Center) -> None:
    njd, _, _ = _cases(center)
    _confirm(center, njd)
    _post(center, "hp-disp", f"{njd}/dispatch", {"team_unit_id": f"{NJD}-team1"})
    response = _dispose(center, "njd-team", njd, [("p.jpg", photo(".jpg", 5), "image/jpeg")])
    sha = response.json()["disposals"][0]["photos"][0]["sha256"]

    def problems() -> list[str]:
        chain = center.client.get(f"/api/v1/cases/{njd}/file-chain", headers=center.as_("chief"))
        body = chain.json()
        assert body["ok"] is (not body["problems"])
        return list(body["problems"])

    assert problems() == []
    factory = center.state.session_factory
    with factory() as session, session.begin():
        record = session.scalars(
            select(CaseFileRecord).where(CaseFileRecord.case_id == njd, CaseFileRecord.seq == 1)
        ).one()
        record.actor = "mallory"
    assert any("record 1 (dispatch) was changed" in p for p in problems())
    with factory() as session, session.begin():
        record = session.scalars(
            select(CaseFileRecord).where(CaseFileRecord.case_id == njd, CaseFileRecord.seq == 1)
        ).one()
        record.actor = "hp-disp"
    assert problems() == []
    with factory() as session, session.begin():
        session.execute(
            text("UPDATE case_transitions SET note = 'rewritten' WHERE action = 'dispatch'")
        )
    assert any("differs from its file record 1" in p for p in problems())
    with factory() as session, session.begin():
        session.execute(text("UPDATE case_transitions SET note = NULL WHERE action = 'dispatch'"))
    assert problems() == []
    center.state.store.delete(sha)
    assert problems() == [f"record 2 lists photo {sha}, which is missing"]


def test_edge_evidence_is_served_only_within_scope(center: Center) -> None:
    frame = b.item(b.jpeg(7), EvidenceKind.FRAME)
    event = b.event(
        event_id="e" * 32, edge_id="demo-edge", camera_id="demo-cam", evidence=[frame.ref]
    )
    center.state.store.write(frame.sha256, frame.data)
    with center.state.session_factory() as session, session.begin():
        crud.upsert_event(
            session,
            event=event,
            payload=b.as_dict(event),
            payload_sha256="f" * 64,
            received_at=NOW,
        )
        crud.add_evidence(
            session,
            sha256=frame.sha256,
            content_type="image/jpeg",
            byte_size=len(frame.data),
            edge_id="demo-edge",
            received_at=NOW,
        )
    url = f"/api/v1/evidence/{frame.sha256}"
    for who, expected in (("chief", 200), ("hp-disp", 200), ("njd-rev", 200), ("wt-rev", 404)):
        response = center.client.get(url, headers=center.as_(who))
        assert response.status_code == expected, who
    assert center.client.get(url, headers=center.as_("njd-rev")).content == frame.data
