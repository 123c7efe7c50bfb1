"""GET /api/v1/cases.csv (the list's filters, scoping, Excel safety) and the case package over
HTTP (the very package ``civicwatch evidence export`` writes), on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

from server.chain_verify import export_case
from server.core.config import load_settings
from server.core.db import utcnow
from server.exports.table import BOM, COLUMNS
from server.lifecycle.tables import TransitionAction
from server.tables import CaseStatus, UserRole
from tests.server.builders import T0, jpeg, sha
from tests.server.webhooks.seed import (
    STREET_A,
    STREET_B,
    add_user,
    app_state,
    login,
    move,
    open_app,
    seed_case,
    seed_units,
)


def _rows(response_text: str) -> list[dict[str, str]]:
    assert response_text.startswith(BOM)
    return list(csv.DictReader(io.StringIO(response_text[1:])))


def test_csv_export_uses_the_list_filters_and_is_excel_safe(db_url: str, tmp_path: Path) -> None:
    settings = load_settings(
        None,
        database_url=db_url,
        evidence_dir=tmp_path / "evidence",
        mqtt_enabled=False,
        auth_enabled=True,
        webhooks={"enabled": False},
    )
    with open_app(settings) as client:
        with app_state(client).session_factory() as session, session.begin():
            seed_units(session, T0)
            add_user(session, name="city", role=UserRole.OPERATOR, unit_id=None)
            add_user(session, name="bund", role=UserRole.OPERATOR, unit_id=STREET_B)
            rejected = seed_case(session, number=1, camera_id="cam-a")
            move(session, rejected, action=TransitionAction.REJECT, to=CaseStatus.REJECTED, at=T0)
            rejected.review_reason = '=HYPERLINK("http://evil.example","click")'
            for number in range(2, 6):
                seed_case(session, number=number, camera_id="cam-b")
        city = login(client, "city")
        response = client.get("/api/v1/cases.csv", headers=city)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        assert "attachment" in response.headers["content-disposition"]
        assert response.content.startswith(BOM.encode("utf-8"))
        rows = _rows(response.text)
        assert len(rows) == 5 and list(rows[0]) == list(COLUMNS)
        by_id = {row["event_id"]: row for row in rows}
        first = by_id[f"{1:032x}"]
        assert first["review_reason"] == '\'=HYPERLINK("http://evil.example","click")'
        assert first["unit_name"] == "南京东路街道"
        assert first["first_seen"].endswith("+08:00")
        listed = client.get("/api/v1/cases", params={"status": "rejected"}, headers=city).json()
        filtered = _rows(
            client.get("/api/v1/cases.csv", params={"status": "rejected"}, headers=city).text
        )
        assert [int(r["id"]) for r in filtered] == [c["id"] for c in listed["items"]]
        by_unit = _rows(
            client.get("/api/v1/cases.csv", params={"unit_id": STREET_A}, headers=city).text
        )
        assert [r["camera_id"] for r in by_unit] == ["cam-a"]
        bad = client.get("/api/v1/cases.csv", params={"since": "yesterday"}, headers=city)
        assert bad.status_code == 422
        # A street sees its own cases only, in the export as in the list.
        bund = _rows(client.get("/api/v1/cases.csv", headers=login(client, "bund")).text)
        assert {r["camera_id"] for r in bund} == {"cam-b"} and len(bund) == 4


def test_the_case_package_over_http_is_the_cli_package(db_url: str, tmp_path: Path) -> None:
    settings = load_settings(
        None,
        database_url=db_url,
        evidence_dir=tmp_path / "evidence",
        mqtt_enabled=False,
        auth_enabled=True,
        webhooks={"enabled": False},
    )
    photo = jpeg(7)
    with open_app(settings) as client:
        state = app_state(client)
        state.store.write(sha(photo), photo)
        with state.session_factory() as session, session.begin():
            seed_units(session, T0)
            add_user(session, name="nanjing", role=UserRole.REVIEWER, unit_id=STREET_A)
            add_user(session, name="bund", role=UserRole.REVIEWER, unit_id=STREET_B)
            case = seed_case(session, number=9, camera_id="cam-a", evidence_bytes=photo)
            case_id = case.id
        response = client.get(f"/api/v1/cases/{case_id}/package", headers=login(client, "nanjing"))
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/zip"
        assert f"case-{case_id}.zip" in response.headers["content-disposition"]
        http_zip = zipfile.ZipFile(io.BytesIO(response.content))
        with state.session_factory() as session:
            cli_path = export_case(
                session, state.store, case_id=case_id, out=tmp_path / "cli.zip", now=utcnow()
            )
        cli_zip = zipfile.ZipFile(cli_path)
        assert http_zip.namelist() == cli_zip.namelist()
        assert f"evidence/{sha(photo)}.jpg" in http_zip.namelist()
        for name in http_zip.namelist():
            if name == "manifest.json":
                ours, theirs = (json.loads(z.read(name)) for z in (http_zip, cli_zip))
                ours.pop("exported_at"), theirs.pop("exported_at")
                assert ours == theirs
            else:
                assert http_zip.read(name) == cli_zip.read(name)
        # Another street's reviewer does not learn that the case exists.
        other = client.get(f"/api/v1/cases/{case_id}/package", headers=login(client, "bund"))
        assert other.status_code == 404
        missing = client.get("/api/v1/cases/99999/package", headers=login(client, "nanjing"))
        assert missing.status_code == 404
