"""The camera registry and zone versions over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from contracts.topics import parse_edge_topic, snapshot_topic
from server.cameras.snapshots import snapshot_status
from server.core.db import utcnow
from server.ingest import IngestContext
from server.ingest.handlers import IngestMessage
from server.ingest.handlers.snapshot import handle_snapshot
from server.org.tables import Camera
from tests.server.cameras.conftest import (
    OTHER_STREET,
    STREAM,
    STREET,
    camera_body,
    jpeg,
    snapshot_message,
)

API = "/api/v1/cameras"

ZONE: dict[str, Any] = {
    "id": "pavement",
    "name": "South pavement",
    "kind": "no_vending",
    "polygon": [[0.0, 0.6], [1.0, 0.6], [1.0, 1.0], [0.0, 1.0]],
    "objects": ["stall", "goods"],
}


def _create(client: TestClient, camera_id: str = "cam-1", **overrides: object) -> dict[str, Any]:
    response = client.post(API, json=camera_body(camera_id, **overrides))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _save(client: TestClient, pk: int, zones: list[dict[str, Any]], base: int | None) -> Any:
    return client.post(
        f"{API}/{pk}/zones", json={"document": {"zones": zones}, "base_version": base}
    )


def test_a_camera_is_registered_with_empty_zones_and_its_url_never_leaks(
    app_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    camera = _create(app_client)
    assert camera["stream_url"] == "rtsp://***@10.0.0.5:554/stream1"
    assert camera["apply"]["latest_zone_version"] == 1
    assert camera["apply"]["applied"] is False
    assert camera["state"] == "unknown"
    pk = camera["id"]
    for path in (API, f"{API}/{pk}", f"{API}/{pk}/zones/latest", "/openapi.json"):
        response = app_client.get(path)
        assert "s3cret-pw" not in response.text, path
    patched = app_client.patch(f"{API}/{pk}", json={"stream_url": STREAM + "?x=1"})
    assert patched.status_code == 200
    assert "s3cret-pw" not in patched.text
    assert "s3cret-pw" not in caplog.text
    assert "admin" not in patched.json()["stream_url"]
    latest = app_client.get(f"{API}/{pk}/zones/latest").json()
    assert latest["document"] == {"camera_id": "cam-1", "zones": []}


def test_bad_camera_input_gets_clear_errors(app_client: TestClient) -> None:
    _create(app_client)
    again = app_client.post(API, json=camera_body())
    assert again.status_code == 409
    assert "already has a camera" in again.json()["detail"]
    district = app_client.post(API, json=camera_body("cam-2", unit_id="sh-huangpu"))
    assert district.status_code == 422
    assert "street" in district.json()["detail"]
    bad_url = app_client.post(API, json=camera_body("cam-3", stream_url="ftp://x/y/zzzz"))
    assert bad_url.status_code == 422
    assert app_client.get(f"{API}/999").status_code == 404


def test_disabling_a_camera_bumps_its_edge_config(app_client: TestClient) -> None:
    camera = _create(app_client)
    before = camera["apply"]["config_version"]
    off = app_client.patch(f"{API}/{camera['id']}", json={"enabled": False}).json()
    assert off["enabled"] is False
    assert off["state"] == "disabled"
    assert off["apply"]["config_version"] == before + 1
    other = _create(app_client, camera_id="cam-9", unit_id=OTHER_STREET)
    assert other["apply"]["config_version"] == before + 2  # one version per edge
    listed = app_client.get(API).json()["items"]
    assert [c["camera_id"] for c in listed] == ["cam-1", "cam-9"]


def test_zones_save_conflict_diff_and_rollback(app_client: TestClient) -> None:
    pk = _create(app_client)["id"]
    saved = _save(app_client, pk, [ZONE], base=1)
    assert saved.status_code == 201, saved.text
    v2 = saved.json()
    assert v2["version"] == 2
    assert v2["parent_version"] == 1
    assert v2["document"]["zones"][0]["id"] == "pavement"
    assert "polygon: [[0.0, 0.6], [1.0, 0.6], [1.0, 1.0], [0.0, 1.0]]" in v2["yaml"]

    # Someone else saved on top of 1 meanwhile: conflict, nothing overwritten.
    stale = _save(app_client, pk, [], base=1)
    assert stale.status_code == 409
    assert stale.json()["detail"]["current_version"] == 2
    assert app_client.get(f"{API}/{pk}/zones/latest").json()["version"] == 2
    # If-Match says the same as base_version.
    stale_header = app_client.post(
        f"{API}/{pk}/zones",
        json={"document": {"zones": []}, "base_version": None},
        headers={"If-Match": '"v1"'},
    )
    assert stale_header.status_code == 409

    moved = {**ZONE, "dwell_s": 120.0, "polygon": [[0.0, 0.5], [1.0, 0.5], [1.0, 1.0]]}
    road = {
        "id": "road",
        "name": "Road",
        "kind": "road",
        "polygon": [[0.0, 0.0], [1.0, 0.0], [1.0, 0.4], [0.0, 0.4]],
        "objects": ["truck"],
    }
    v3 = _save(app_client, pk, [moved, road], base=2)
    assert v3.status_code == 201, v3.text
    diff = app_client.get(f"{API}/{pk}/zones/3/diff").json()
    assert diff["against"] == 2
    assert diff["added"] == ["road"]
    assert diff["removed"] == []
    assert diff["changed"] == [{"zone_id": "pavement", "fields": ["dwell_s", "polygon"]}]
    assert diff["unified"].startswith("--- v2\n+++ v3\n")
    assert "+  dwell_s: 120.0" in diff["unified"]

    back = app_client.post(
        f"{API}/{pk}/zones/rollback", json={"to_version": 2, "base_version": 3, "comment": ""}
    )
    assert back.status_code == 201, back.text
    v4 = back.json()
    assert v4["version"] == 4
    assert v4["yaml"] == v2["yaml"]
    assert v4["comment"] == "rollback to version 2"
    stale_back = app_client.post(
        f"{API}/{pk}/zones/rollback", json={"to_version": 1, "base_version": 3}
    )
    assert stale_back.status_code == 409
    history = app_client.get(f"{API}/{pk}/zones").json()["items"]
    assert [v["version"] for v in history] == [4, 3, 2, 1]
    assert app_client.get(f"{API}/{pk}/zones/9/diff").status_code == 404


def test_validation_names_the_zone_and_shape_at_fault(app_client: TestClient) -> None:
    pk = _create(app_client)["id"]
    crossing = {
        **ZONE,
        "id": "shop-1",
        "kind": "shop_frontage",
        "shop": {"id": "SH-1", "name": "Li's"},
        "door_line": {"points": [[0.1, 0.1], [0.9, 0.1]], "street_side": "below"},
    }
    bowtie = {**ZONE, "id": "bowtie", "polygon": [[0, 0], [1, 1], [1, 0], [0, 1]]}
    outside = {
        **ZONE,
        "id": "out",
        "exclusions": [[[0.1, 0.7], [1.5, 0.7], [0.1, 0.9]]],
    }
    checked = app_client.post(
        f"{API}/{pk}/zones/validate", json={"document": {"zones": [crossing, bowtie, outside]}}
    ).json()
    assert checked["valid"] is False
    by_zone = {p["zone_id"]: p for p in checked["problems"]}
    assert by_zone["shop-1"]["shape"] == "door_line"
    assert "lies outside the zone's polygon" in by_zone["shop-1"]["message"]
    assert by_zone["bowtie"]["shape"] == "polygon"
    assert "self-intersecting" in by_zone["bowtie"]["message"]
    assert by_zone["out"]["shape"] == "exclusions"
    assert (by_zone["out"]["shape_index"], by_zone["out"]["point"]) == (0, 1)
    assert by_zone["out"]["message"].startswith("cam-1.yaml:")
    refused = _save(app_client, pk, [bowtie], base=1)
    assert refused.status_code == 422
    assert refused.json()["detail"]["problems"][0]["zone_index"] == 0
    assert app_client.get(f"{API}/{pk}/zones/latest").json()["version"] == 1
    ok = app_client.post(f"{API}/{pk}/zones/validate", json={"document": {"zones": [ZONE]}})
    assert ok.json() == {"valid": True, "problems": []}


def test_yaml_of_another_camera_or_a_newer_schema_is_refused(app_client: TestClient) -> None:
    pk = _create(app_client)["id"]
    other = app_client.post(
        f"{API}/{pk}/zones/validate", json={"yaml": "camera_id: cam-2\nzones: []\n"}
    ).json()
    assert "is not this camera's" in other["problems"][0]["message"]
    broken = app_client.post(f"{API}/{pk}/zones/validate", json={"yaml": "zones: [\n"}).json()
    assert "not valid YAML" in broken["problems"][0]["message"]
    both = app_client.post(
        f"{API}/{pk}/zones/validate", json={"yaml": "x: 1", "document": {"zones": []}}
    )
    assert both.status_code == 422


def test_snapshot_request_without_mqtt_says_so(app_client: TestClient) -> None:
    pk = _create(app_client)["id"]
    assert app_client.get(f"{API}/{pk}/snapshot").json()["status"] == "none"
    asked = app_client.post(f"{API}/{pk}/snapshot")
    assert asked.status_code == 503
    assert "MQTT is off" in asked.json()["detail"]


def test_pages_render(app_client: TestClient) -> None:
    pk = _create(app_client)["id"]
    listing = app_client.get("/cameras")
    assert listing.status_code == 200
    assert "cameras/list.js" in listing.text
    editor = app_client.get(f"/cameras/{pk}/zones")
    assert editor.status_code == 200
    assert f'data-camera="{pk}"' in editor.text
    assert "<script>" not in editor.text  # no inline script (CSP)


def test_snapshot_is_served_and_zones_refer_to_it(app_client: TestClient) -> None:
    pk = _create(app_client)["id"]
    state = app_client.app.state.civicwatch  # type: ignore[attr-defined]
    data = jpeg()
    message = snapshot_message(data, at=utcnow())
    topic = snapshot_topic("edge-1", "cam-1")
    with state.session_factory() as session, session.begin():
        handle_snapshot(
            session,
            IngestMessage(topic=topic, address=parse_edge_topic(topic), payload=message.to_json()),
            context=IngestContext(store=state.store),
            now=utcnow(),
        )
    snap = app_client.get(f"{API}/{pk}/snapshot").json()
    assert snap["status"] == "ready"
    assert snap["sha256"] == message.sha256
    image = app_client.get(snap["url"])
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/jpeg"
    assert image.content == data
    assert app_client.get(f"{API}/{pk}/snapshots/{'0' * 64}").status_code == 404
    body = {"document": {"zones": [ZONE]}, "base_version": 1, "reference_sha256": message.sha256}
    saved = app_client.post(f"{API}/{pk}/zones", json=body)
    assert saved.status_code == 201
    assert saved.json()["reference_sha256"] == message.sha256
    unknown = app_client.post(
        f"{API}/{pk}/zones", json={**body, "base_version": 2, "reference_sha256": "1" * 64}
    )
    assert unknown.status_code == 422
    assert "no snapshot of this camera" in unknown.json()["detail"]


def test_snapshot_status_waits_then_times_out() -> None:
    t0 = utcnow()
    assert snapshot_status(None, None, now=t0, timeout_s=30) == "none"
    assert snapshot_status(None, t0, now=t0 + timedelta(seconds=29), timeout_s=30) == "waiting"
    assert snapshot_status(None, t0, now=t0 + timedelta(seconds=31), timeout_s=30) == "timed_out"


def test_a_camera_from_the_units_file_gets_settings_by_patch(app_client: TestClient) -> None:
    factory = app_client.app.state.civicwatch.session_factory  # type: ignore[attr-defined]
    with factory() as session, session.begin():
        camera = Camera(
            edge_id="demo-edge",
            camera_id="demo-cam",
            name="南京东路步行街西口",
            unit_id=STREET,
            created_at=utcnow(),
        )
        session.add(camera)
    (listed,) = app_client.get(API).json()["items"]
    assert (listed["stream_url"], listed["profile"], listed["apply"]["config_version"]) == (
        None,
        None,
        None,
    )
    pk = listed["id"]
    assert app_client.get(f"{API}/{pk}/zones/latest").status_code == 409
    no_url = app_client.patch(f"{API}/{pk}", json={"profile": "road"})
    assert no_url.status_code == 422
    assert "no stream URL yet" in no_url.json()["detail"]
    done = app_client.patch(f"{API}/{pk}", json={"stream_url": STREAM, "profile": "road"}).json()
    assert (done["profile"], done["apply"]["config_version"]) == ("road", 1)
    latest = app_client.get(f"{API}/{pk}/zones/latest").json()
    assert (latest["version"], latest["document"]["camera_id"]) == (1, "demo-cam")
