"""The HTTP API through FastAPI's TestClient, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from contracts.events import EvidenceKind
from server.evidence_store import EvidenceStore
from server.ingest import IngestContext, IngestOutcome, dispatch
from server.state import ServerState
from tests.server import builders as b
from tests.server.conftest import NOW


def state_of(client: TestClient) -> ServerState:
    state: ServerState = client.app.state.civicwatch  # type: ignore[attr-defined]
    return state


def ingest(client: TestClient, topic: str, payload: bytes, content_type: str) -> IngestOutcome:
    state = state_of(client)
    outcome = dispatch(
        state.session_factory,
        topic,
        payload,
        b.props(content_type),
        context=IngestContext(store=state.store, limits=b.UNCHAINED),
        metrics=state.metrics,
        now=NOW,
    )
    assert outcome.accepted, outcome
    return outcome


def seed(client: TestClient) -> dict[str, Any]:
    """Five cases over two cameras, two zones and three violation types, one hour apart.

    Case n (1..5) is first seen at T0 + n hours; only case 1 has evidence.
    """
    annotated = b.item(b.jpeg(11), EvidenceKind.ANNOTATED)
    crop = b.item(b.jpeg(12), EvidenceKind.CROP)
    pending = b.item(b.jpeg(13), EvidenceKind.FRAME)
    specs = [
        ("cam-1", "sidewalk-a", "street_stall"),
        ("cam-1", "sidewalk-a", "street_stall"),
        ("cam-1", "shopfront", "cross_door"),
        ("cam-2", "road", "muck_truck"),
        ("cam-2", "road", "muck_truck"),
    ]
    for it in (annotated, crop):
        ingest(client, b.evidence_topic(it), it.data, it.ref.content_type)
    for n, (camera, zone, violation) in enumerate(specs, start=1):
        first = b.T0 + timedelta(hours=n)
        ev = b.event(
            event_id=f"{n:032x}",
            camera_id=camera,
            zone_id=zone,
            rule=violation,
            violation_type=violation,
            first_seen=first,
            last_seen=first + timedelta(seconds=40),
            sent_at=first + timedelta(seconds=41),
            evidence=[annotated.ref, crop.ref, pending.ref] if n == 1 else [],
        )
        ingest(client, b.event_topic(ev), ev.to_json(), "application/json")
    return {"annotated": annotated, "crop": crop, "pending": pending}


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_list_filters_and_paging(client: TestClient) -> None:
    seed(client)
    everything = client.get("/api/v1/cases")
    assert ids(everything) == [5, 4, 3, 2, 1]
    assert everything.json()["total"] == 5
    assert ids(client.get("/api/v1/cases", params={"camera_id": "cam-2"})) == [5, 4]
    assert ids(client.get("/api/v1/cases", params={"zone_id": "shopfront"})) == [3]
    assert ids(client.get("/api/v1/cases", params={"violation_type": "street_stall"})) == [2, 1]
    assert ids(client.get("/api/v1/cases", params={"status": "candidate"})) == [5, 4, 3, 2, 1]
    assert ids(client.get("/api/v1/cases", params={"status": "confirmed"})) == []
    window = {
        "since": (b.T0 + timedelta(hours=2)).isoformat(),
        "until": (b.T0 + timedelta(hours=4)).isoformat(),
    }
    assert ids(client.get("/api/v1/cases", params=window)) == [3, 2]
    shanghai = {"since": "2024-05-01T20:00:00+08:00"}  # = 12:00 UTC = T0 + 4 h
    assert ids(client.get("/api/v1/cases", params=shanghai)) == [5, 4]
    page = client.get("/api/v1/cases", params={"limit": 2, "offset": 2})
    assert ids(page) == [3, 2]
    assert page.json() | {"items": None} == {"items": None, "total": 5, "limit": 2, "offset": 2}
    combined = {"camera_id": "cam-1", "violation_type": "street_stall", "limit": 1}
    response = client.get("/api/v1/cases", params=combined)
    assert ids(response) == [2] and response.json()["total"] == 2
    assert ids(client.get("/api/v1/cases", params={"offset": 50})) == []


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 201},
        {"offset": -1},
        {"status": "open"},
        {"violation_type": "jaywalking"},
        {"since": "yesterday"},
        {"since": "2024-05-01T08:00:00"},  # no time zone
        {"since": "2024-05-02T00:00:00Z", "until": "2024-05-01T00:00:00Z"},
        {"camera_id": "../etc"},
    ],
)
def test_list_refuses_bad_filters(client: TestClient, params: dict[str, Any]) -> None:
    response = client.get("/api/v1/cases", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]


def test_detail_with_events_and_evidence(client: TestClient) -> None:
    items = seed(client)
    ev = b.event(
        event_id=f"{1:032x}",
        phase="end",
        seconds=30,
        first_seen=b.T0 + timedelta(hours=1),
        last_seen=b.T0 + timedelta(hours=1, seconds=90),
        sent_at=b.T0 + timedelta(hours=1, seconds=91),
    )
    ingest(client, b.event_topic(ev), ev.to_json(), "application/json")
    response = client.get("/api/v1/cases/1")
    assert response.status_code == 200, response.text
    case = response.json()
    assert case["event_id"] == f"{1:032x}" and case["phase"] == "end" and case["open"] is False
    assert [e["phase"] for e in case["events"]] == ["start", "end"]
    assert case["events"][0]["payload"]["event_id"] == f"{1:032x}"
    assert case["last_seen"] == "2024-05-01T09:01:30Z"
    evidence = {e["kind"]: e for e in case["evidence"]}
    assert set(evidence) == {"annotated", "crop", "frame"}
    assert evidence["frame"]["available"] is False
    for kind in ("annotated", "crop"):
        item = evidence[kind]
        assert item["available"] and item["sha256"] == items[kind].sha256
        body = client.get(item["url"])
        assert body.status_code == 200
        assert body.headers["content-type"] == "image/jpeg"
        assert body.headers["x-content-type-options"] == "nosniff"
        assert hashlib.sha256(body.content).hexdigest() == item["sha256"]
        assert len(body.content) == item["byte_size"]
    # Evidence that has not arrived yet is a 404 with a reason.
    missing = client.get(evidence["frame"]["url"])
    assert missing.status_code == 404 and "not found" in missing.json()["detail"]


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/api/v1/cases/999", 404),
        ("/api/v1/cases/0", 422),
        ("/api/v1/cases/abc", 422),
        ("/api/v1/evidence/" + "0" * 64, 404),
        ("/api/v1/evidence/" + "A" * 64, 422),
        ("/api/v1/evidence/abc", 422),
        # An encoded slash decodes into another path: no route matches at all.
        ("/api/v1/evidence/..%2F..%2Fetc%2Fpasswd", 404),
        ("/api/v1/evidence/" + "0" * 64 + "%2F..", 404),
        ("/api/v1/evidence/%2e%2e", 422),
    ],
)
def test_unknown_and_malformed_ids(client: TestClient, path: str, code: int) -> None:
    response = client.get(path)
    assert response.status_code == code, response.text
    assert "Traceback" not in response.text


def test_evidence_file_gone_from_disk_is_a_clear_404(client: TestClient) -> None:
    items = seed(client)
    store = state_of(client).store
    assert isinstance(store, EvidenceStore)  # the default backend: a directory
    path = store.path_for(items["crop"].sha256)
    path.unlink()
    response = client.get(f"/api/v1/evidence/{items['crop'].sha256}")
    assert response.status_code == 404 and "missing" in response.json()["detail"]


def review(client: TestClient, case_id: int, **body: Any) -> Any:
    return client.post(f"/api/v1/cases/{case_id}/review", json=body)


def test_review_verdicts(client: TestClient) -> None:
    seed(client)  # unsigned events: every case is "unchained"
    assert client.get("/api/v1/cases/1").json()["chain_status"] == "unchained"
    refused = review(client, 1, verdict="confirm", reviewer="li.wei")
    assert refused.status_code == 409 and "override" in refused.json()["detail"]
    assert review(client, 1, verdict="confirm", override_chain=True).status_code == 422
    confirmed = review(
        client, 1, verdict="confirm", reviewer="li.wei", override_chain=True, reason="seen on site"
    )
    assert confirmed.status_code == 200, confirmed.text
    body = confirmed.json()
    assert body["status"] == "confirmed" and body["reviewer"] == "li.wei"
    assert body["reviewed_at"] is not None
    assert [(r["verdict"], r["chain_status"], r["chain_override"]) for r in body["reviews"]] == [
        ("confirm", "unchained", True)
    ]

    rejected = review(client, 2, verdict="reject", reason="  umbrella of a pedestrian  ")
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["review_reason"] == "umbrella of a pedestrian"

    assert review(client, 3, verdict="escalate").json()["status"] == "escalated"
    decided = review(client, 3, verdict="confirm", reason="supervisor agrees", override_chain=True)
    assert decided.json()["status"] == "confirmed"
    assert [(r["status_before"], r["status_after"]) for r in decided.json()["reviews"]] == [
        ("candidate", "escalated"),
        ("escalated", "confirmed"),
    ]
    listed = client.get("/api/v1/cases", params={"status": "candidate"})
    assert ids(listed) == [5, 4]


@pytest.mark.parametrize(
    ("body", "code", "fragment"),
    [
        ({"verdict": "reject"}, 422, "reason is required"),
        ({"verdict": "reject", "reason": "   "}, 422, "reason is required"),
        ({"verdict": "approve"}, 422, "verdict"),
        ({}, 422, "verdict"),
        ({"verdict": "confirm", "status": "confirmed"}, 422, "status"),
        ({"verdict": "confirm", "reason": "x" * 2001}, 422, "reason"),
        ({"verdict": "confirm", "reviewer": "y" * 65}, 422, "reviewer"),
    ],
)
def test_review_refuses_bad_input(
    client: TestClient, body: dict[str, Any], code: int, fragment: str
) -> None:
    seed(client)
    response = review(client, 1, **body)
    assert response.status_code == code, response.text
    assert fragment in response.text
    assert client.get("/api/v1/cases/1").json()["status"] == "candidate"


def test_review_conflicts_and_unknown_case(client: TestClient) -> None:
    seed(client)
    assert review(client, 999, verdict="confirm").status_code == 404
    assert review(client, 1, verdict="confirm", reason="ok", override_chain=True).status_code == 200
    again = review(client, 1, verdict="reject", reason="changed my mind")
    assert again.status_code == 409
    assert again.json()["detail"] == "case 1 is confirmed; cannot reject"
    review(client, 2, verdict="escalate")
    assert review(client, 2, verdict="escalate").status_code == 409
    not_json = client.post(
        "/api/v1/cases/1/review", content=b"{", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 422


def test_healthz_and_docs(client: TestClient) -> None:
    ingest(client, "civicwatch/v1/edges/edge-9/availability", b"online", "text/plain")
    health = client.get("/healthz")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "ok" and body["database"] is True
    assert body["mqtt"]["enabled"] is False
    assert [(e["edge_id"], e["availability"]) for e in body["edges"]] == [("edge-9", "online")]
    assert body["ingest"]["accepted"] == {"availability": 1}
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/static/docs/swagger-ui-bundle.js" in docs.text
    assert "cdn." not in docs.text and "googleapis" not in client.get("/redoc").text
    assert client.get("/static/docs/swagger-ui-bundle.js").status_code == 200
    spec = client.get("/openapi.json").json()
    assert {
        "/api/v1/cases",
        "/api/v1/cases/{case_id}",
        "/api/v1/cases/{case_id}/review",
        "/api/v1/evidence/{sha256}",
        "/healthz",
    } <= set(spec["paths"])


def test_review_page_is_served(client: TestClient) -> None:
    for path in ("/", "/review"):
        page = client.get(path)
        assert page.status_code == 200
        assert "案件审核" in page.text and "/static/js/review.js" in page.text
        assert "http://" not in page.text and "https://" not in page.text  # nothing external
    script = client.get("/static/js/review.js")
    assert script.status_code == 200 and "api.js" in script.text
    assert "占道设摊" in client.get("/i18n/zh-CN.json").json().values()
