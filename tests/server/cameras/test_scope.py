"""Cameras are scoped by 街镇: another street's camera is 404; roles that may not change them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server import auth
from server.core.config import load_settings
from server.core.db import utcnow
from server.main import create_app
from server.tables import UserRole
from tests.server.cameras.conftest import OTHER_STREET, STREET, add_units, camera_body

PASSWORD = "Camera-Scope-2024"


@pytest.fixture
def secured(db_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = load_settings(
        None,
        database_url=db_url,
        evidence_dir=tmp_path / "evidence",
        mqtt_enabled=False,
        auth_enabled=True,
    )
    with TestClient(create_app(settings)) as client:
        factory = client.app.state.civicwatch.session_factory  # type: ignore[attr-defined]
        add_units(factory)
        with factory() as session, session.begin():
            for name, role, unit in (
                ("city-admin", UserRole.ADMIN, None),
                ("nd-operator", UserRole.OPERATOR, STREET),
                ("wt-operator", UserRole.OPERATOR, OTHER_STREET),
                ("nd-reviewer", UserRole.REVIEWER, STREET),
            ):
                auth.create_user(
                    session, username=name, password=PASSWORD, role=role, now=utcnow(), unit_id=unit
                )
        yield client


def _as(client: TestClient, name: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
    assert response.status_code == 200, response.text
    client.cookies.clear()
    return {"Authorization": f"Bearer {response.json()['token']}"}


def test_a_street_sees_and_changes_only_its_own_cameras(secured: TestClient) -> None:
    assert secured.get("/api/v1/cameras").status_code == 401
    nd, wt = _as(secured, "nd-operator"), _as(secured, "wt-operator")
    created = secured.post("/api/v1/cameras", json=camera_body(), headers=nd)
    assert created.status_code == 201, created.text
    pk = created.json()["id"]
    elsewhere = secured.post(
        "/api/v1/cameras", json=camera_body("cam-2", unit_id=STREET), headers=wt
    )
    assert elsewhere.status_code == 404  # another street's unit does not exist for it
    for path in (f"/api/v1/cameras/{pk}", f"/api/v1/cameras/{pk}/zones/latest"):
        assert secured.get(path, headers=wt).status_code == 404, path
    assert (
        secured.patch(f"/api/v1/cameras/{pk}", json={"enabled": False}, headers=wt).status_code
        == 404
    )
    assert secured.get("/api/v1/cameras", headers=wt).json()["items"] == []
    assert [c["id"] for c in secured.get("/api/v1/cameras", headers=nd).json()["items"]] == [pk]
    admin = _as(secured, "city-admin")
    assert [c["id"] for c in secured.get("/api/v1/cameras", headers=admin).json()["items"]] == [pk]


def test_a_reviewer_reads_but_does_not_change_cameras(secured: TestClient) -> None:
    pk = secured.post(
        "/api/v1/cameras", json=camera_body(), headers=_as(secured, "nd-operator")
    ).json()["id"]
    reviewer = _as(secured, "nd-reviewer")
    assert secured.get(f"/api/v1/cameras/{pk}", headers=reviewer).status_code == 200
    refused = secured.post(
        f"/api/v1/cameras/{pk}/zones",
        json={"document": {"zones": []}, "base_version": 1},
        headers=reviewer,
    )
    assert refused.status_code == 403
