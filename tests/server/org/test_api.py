"""Units over HTTP: admin changes, placement rules, and roles (SQLite and PostgreSQL)."""

from __future__ import annotations

from tests.server.lifecycle.conftest import Center, center

__all__ = ["center"]

SQUARE = {
    "type": "Polygon",
    "coordinates": [[[121.49, 31.23], [121.50, 31.23], [121.50, 31.24], [121.49, 31.23]]],
}


def test_admins_add_and_change_units(center: Center) -> None:
    client, admin = center.client, center.as_("chief")
    team = {
        "id": "sh-huangpu-waitan-team2",
        "name": "外滩城管二中队",
        "name_en": "The Bund Team 2",
        "level": "team",
        "parent_id": "sh-huangpu-waitan",
    }
    assert client.post("/api/v1/units", headers=center.as_("hp-disp"), json=team).status_code == 403
    created = client.post("/api/v1/units", headers=admin, json=team)
    assert created.status_code == 201, created.text
    assert created.json()["parent_id"] == "sh-huangpu-waitan"
    assert client.post("/api/v1/units", headers=admin, json=team).status_code == 409
    misplaced = client.post(
        "/api/v1/units", headers=admin, json={**team, "id": "x-team", "parent_id": "sh-huangpu"}
    )
    assert misplaced.status_code == 422
    assert "must be under a street" in misplaced.json()["detail"][0]["msg"]
    orphan = client.post(
        "/api/v1/units", headers=admin, json={**team, "id": "y-team", "parent_id": "nowhere"}
    )
    assert orphan.status_code == 422 and "does not exist" in orphan.text

    changed = client.patch(
        "/api/v1/units/sh-huangpu-waitan-team2",
        headers=admin,
        json={"name": "外滩二中队", "outline": SQUARE},
    )
    assert changed.status_code == 200 and changed.json()["name"] == "外滩二中队"
    assert changed.json()["outline"] == SQUARE
    bad = client.patch(
        "/api/v1/units/sh-huangpu-waitan-team2",
        headers=admin,
        json={"outline": {"type": "Point", "coordinates": [1, 2]}},
    )
    assert bad.status_code == 422
    moved = client.patch(
        "/api/v1/units/sh-huangpu-waitan-team2", headers=admin, json={"parent_id": "sh"}
    )
    assert moved.status_code == 422  # a unit's place in the tree does not change
    assert client.patch("/api/v1/units/nope", headers=admin, json={}).status_code == 404
    nulled = client.patch(
        "/api/v1/units/sh-huangpu-waitan-team2", headers=admin, json={"name": None}
    )
    assert nulled.status_code == 422 and "name cannot be null" in nulled.text

    # The new team is under the street: the street's reviewer sees it, the other street not.
    wt = client.get("/api/v1/units/sh-huangpu-waitan", headers=center.as_("wt-rev")).json()
    assert [c["id"] for c in wt["children"]] == [
        "sh-huangpu-waitan-team1",
        "sh-huangpu-waitan-team2",
    ]
    other = client.get("/api/v1/units/sh-huangpu-waitan-team2", headers=center.as_("njd-rev"))
    assert other.status_code == 404


def test_the_openapi_documents_the_command_center(center: Center) -> None:
    spec = center.client.get("/openapi.json", headers=center.as_("chief")).json()
    paths = spec["paths"]
    for path in (
        "/api/v1/units",
        "/api/v1/units/{unit_id}",
        "/api/v1/cases/{case_id}/dispatch",
        "/api/v1/cases/{case_id}/disposals",
        "/api/v1/cases/{case_id}/verify",
        "/api/v1/cases/{case_id}/close",
        "/api/v1/cases/{case_id}/reopen",
        "/api/v1/cases/{case_id}/escalate",
        "/api/v1/cases/{case_id}/transitions",
        "/api/v1/cases/{case_id}/file-chain",
    ):
        assert path in paths, path
    dispatch = paths["/api/v1/cases/{case_id}/dispatch"]["post"]
    assert {"403", "404", "409", "422"} <= set(dispatch["responses"])
    assert "FileChainOut" in spec["components"]["schemas"]
    case_out = spec["components"]["schemas"]["CaseOut"]["properties"]
    assert {"unit_id", "unit_name", "team_unit_id", "deadline_at", "overdue"} <= set(case_out)
