"""Review labels over HTTP, on SQLite and PostgreSQL: reasons with verdicts, box edits."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from contracts.events import EvidenceKind
from tests.server import builders as b
from tests.server.test_api import ingest

BOX = {"x1": 0.1, "y1": 0.2, "x2": 0.3, "y2": 0.5}


def seed_case(client: TestClient, n: int = 1, *, with_frame: bool = True) -> int:
    """One case from a real ingest: a start event whose evidence is a clean frame."""
    frame = b.item(b.jpeg(100 + n), EvidenceKind.FRAME)
    ingest(client, b.evidence_topic(frame), frame.data, "image/jpeg")
    ev = b.event(event_id=f"{n:032x}", evidence=[frame.ref] if with_frame else [])
    ingest(client, b.event_topic(ev), ev.to_json(), "application/json")
    listed = client.get("/api/v1/cases").json()["items"]
    return int(next(c["id"] for c in listed if c["event_id"] == f"{n:032x}"))


def labels(client: TestClient, case_id: int) -> dict[str, Any]:
    response = client.get(f"/api/v1/cases/{case_id}/labels")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_labels_of_a_fresh_case_show_the_detected_box(client: TestClient) -> None:
    case_id = seed_case(client)
    body = labels(client, case_id)
    assert body["frame"]["available"] is True
    assert body["frame"]["url"].endswith(body["frame"]["sha256"])
    (box,) = body["boxes"]
    assert box["box_id"] == "detected" and box["class_name"] == "stall"
    assert box["box"] == BOX and box["label"] == "stall" and not box["fixed"]
    assert body["reason"] is None and body["edits"] == []
    assert "goods" in body["classes"] and "background" in body["really_is"]


def test_fix_add_and_reject_wrong_object(client: TestClient) -> None:
    case_id = seed_case(client)
    moved = {"x1": 0.12, "y1": 0.22, "x2": 0.33, "y2": 0.55}
    fixed = client.post(
        f"/api/v1/cases/{case_id}/labels/boxes",
        json={"action": "fix", "box_id": "detected", "box": moved},
    )
    assert fixed.status_code == 200, fixed.text
    added = client.post(
        f"/api/v1/cases/{case_id}/labels/boxes",
        json={
            "action": "add",
            "box": {"x1": 0.6, "y1": 0.6, "x2": 0.7, "y2": 0.8},
            "class_name": "goods",
        },
    )
    assert added.status_code == 200, added.text
    added_id = next(b["box_id"] for b in added.json()["boxes"] if b["origin"] == "added")
    verdict = client.post(
        f"/api/v1/cases/{case_id}/review",
        json={
            "verdict": "reject",
            "reviewer": "li",
            "structured": {"code": "wrong_object", "box_id": "detected", "really_is": "background"},
        },
    )
    assert verdict.status_code == 200, verdict.text
    assert verdict.json()["status"] == "rejected"
    assert verdict.json()["review_reason"] == "wrong_object: box detected (really background)"
    body = labels(client, case_id)
    boxes = {b["box_id"]: b for b in body["boxes"]}
    assert boxes["detected"]["box"] == moved and boxes["detected"]["fixed"]
    assert boxes["detected"]["wrong"] and boxes["detected"]["label"] is None
    assert boxes[added_id]["label"] == "goods" and not boxes[added_id]["wrong"]
    assert body["reason"]["code"] == "wrong_object" and body["reason"]["reviewer"] == "li"
    assert [e["action"] for e in body["edits"]] == ["fix", "add", "wrong"]
    review_id = client.get(f"/api/v1/cases/{case_id}").json()["reviews"][-1]["id"]
    assert body["reason"]["review_id"] == review_id


def test_bad_boxes_get_a_clear_422(client: TestClient) -> None:
    case_id = seed_case(client)
    outside = client.post(
        f"/api/v1/cases/{case_id}/labels/boxes",
        json={
            "action": "add",
            "box": {"x1": 0.5, "y1": 0.5, "x2": 1.5, "y2": 0.6},
            "class_name": "car",
        },
    )
    assert outside.status_code == 422
    assert "x2=1.5 lies outside the image" in outside.text
    empty = client.post(
        f"/api/v1/cases/{case_id}/labels/boxes",
        json={
            "action": "fix",
            "box_id": "detected",
            "box": {"x1": 0.5, "y1": 0.5, "x2": 0.5, "y2": 0.6},
        },
    )
    assert empty.status_code == 422 and "no positive size" in empty.text
    unknown = client.post(
        f"/api/v1/cases/{case_id}/labels/boxes",
        json={"action": "fix", "box_id": "added-99", "box": BOX},
    )
    assert unknown.status_code == 422 and "no box 'added-99'" in unknown.text
    assert labels(client, case_id)["edits"] == []
    assert (
        client.post(
            "/api/v1/cases/999/labels/boxes",
            json={"action": "fix", "box_id": "detected", "box": BOX},
        ).status_code
        == 404
    )


def test_a_case_without_a_frame_takes_no_box_edit(client: TestClient) -> None:
    case_id = seed_case(client, with_frame=False)
    assert labels(client, case_id)["frame"] is None and labels(client, case_id)["boxes"] == []
    response = client.post(
        f"/api/v1/cases/{case_id}/labels/boxes",
        json={"action": "add", "box": BOX, "class_name": "stall"},
    )
    assert response.status_code == 422 and "no clean frame" in response.text


def test_a_refused_structured_reason_leaves_the_case_unreviewed(client: TestClient) -> None:
    case_id = seed_case(client)
    wrong_box = client.post(
        f"/api/v1/cases/{case_id}/review",
        json={"verdict": "reject", "structured": {"code": "wrong_object", "box_id": "added-5"}},
    )
    assert wrong_box.status_code == 422 and "no box 'added-5'" in wrong_box.text
    dup = client.post(
        f"/api/v1/cases/{case_id}/review",
        json={"verdict": "reject", "structured": {"code": "duplicate", "duplicate_of": 4242}},
    )
    assert dup.status_code == 422 and "no case 4242" in dup.text
    confirm = client.post(
        f"/api/v1/cases/{case_id}/review",
        json={"verdict": "confirm", "structured": {"code": "wrong_place"}},
    )
    assert confirm.status_code == 422
    case = client.get(f"/api/v1/cases/{case_id}").json()
    assert case["status"] == "candidate" and case["reviews"] == []
    assert labels(client, case_id)["edits"] == []


def test_reasons_of_every_code_and_the_old_free_text(client: TestClient) -> None:
    first = seed_case(client, 1)
    second = seed_case(client, 2)
    third = seed_case(client, 3)
    old = client.post(
        f"/api/v1/cases/{first}/review", json={"verdict": "reject", "reason": "not a stall"}
    )
    assert old.status_code == 200 and old.json()["review_reason"] == "not a stall"
    assert labels(client, first)["reason"] is None
    lawful = client.post(
        f"/api/v1/cases/{second}/review",
        json={
            "verdict": "escalate",
            "reason": "ask the licence office",
            "structured": {"code": "not_a_violation", "detail": "licensed"},
        },
    )
    assert lawful.status_code == 200 and lawful.json()["review_reason"] == "ask the licence office"
    rejected = client.post(
        f"/api/v1/cases/{second}/review",
        json={"verdict": "reject", "structured": {"code": "duplicate", "duplicate_of": first}},
    )
    assert rejected.status_code == 200, rejected.text
    reasons = labels(client, second)["reasons"]
    assert [(r["code"], r["detail"], r["duplicate_of"]) for r in reasons] == [
        ("not_a_violation", "licensed", None),
        ("duplicate", None, first),
    ]
    place = client.post(
        f"/api/v1/cases/{third}/review",
        json={"verdict": "reject", "structured": {"code": "wrong_place"}},
    )
    assert place.status_code == 200 and place.json()["review_reason"] == "wrong_place"
