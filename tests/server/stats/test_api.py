"""GET /api/v1/stats on SQLite and PostgreSQL with seeded cases, scoped to the requester."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from server.core.config import load_settings
from server.lifecycle.tables import TransitionAction
from server.tables import CaseStatus, UserRole
from tests.server.builders import T0
from tests.server.webhooks.seed import (
    DISTRICT,
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


def test_stats_count_what_the_requester_reaches(db_url: str, tmp_path: Path) -> None:
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
            add_user(session, name="city", role=UserRole.ADMIN, unit_id=None)
            add_user(session, name="bund", role=UserRole.REVIEWER, unit_id=STREET_B)
            a1 = seed_case(session, number=1, camera_id="cam-a", model_version="1")
            move(session, a1, action=TransitionAction.CONFIRM, to=CaseStatus.CONFIRMED, at=T0)
            move(
                session,
                a1,
                action=TransitionAction.CLOSE,
                to=CaseStatus.CLOSED,
                at=a1.created_at + timedelta(hours=2),
            )
            a2 = seed_case(
                session, number=2, camera_id="cam-a", model_version="2", violation="cross_door"
            )
            move(session, a2, action=TransitionAction.REJECT, to=CaseStatus.REJECTED, at=T0)
            b1 = seed_case(
                session, number=3, camera_id="cam-b", first_seen=T0 + timedelta(hours=16)
            )  # next day in Shanghai
            move(
                session,
                b1,
                action=TransitionAction.OVERDUE,
                to=CaseStatus.CANDIDATE,
                at=T0 + timedelta(hours=20),
            )
            seed_case(session, number=4, camera_id="cam-unregistered")
        city = login(client, "city")
        stats = client.get("/api/v1/stats", headers=city)
        assert stats.status_code == 200, stats.text
        body = stats.json()
        assert body["total"] == 4 and body["truncated"] is False
        assert {u["unit_id"]: u["count"] for u in body["by_unit"]} == {
            STREET_A: 2,
            STREET_B: 1,
            None: 1,
        }
        assert {u["unit_id"]: u["count"] for u in body["by_subunit"]} == {DISTRICT: 3, None: 1}
        assert [(d["day"], d["count"]) for d in body["by_day"]] == [
            ("2024-05-01", 3),
            ("2024-05-02", 1),
        ]
        assert {r["key"]: r["rate"] for r in body["confirm_rate_by_model_version"]} == {
            "1": 1.0,
            "2": 0.0,
        }
        assert body["closed"] == 1 and body["median_close_s"] == 7200.0
        assert (body["overdue"], body["overdue_open"]) == (1, 1)
        district = client.get("/api/v1/stats", params={"unit_id": DISTRICT}, headers=city).json()
        assert district["total"] == 3 and district["unit_id"] == DISTRICT
        assert {u["unit_id"] for u in district["by_subunit"]} == {STREET_A, STREET_B}
        ranged = client.get(
            "/api/v1/stats",
            params={"since": "2024-05-01T00:00:00+08:00", "until": "2024-05-02T00:00:00+08:00"},
            headers=city,
        ).json()
        assert ranged["total"] == 3 and len(ranged["by_day"]) == 1

        bund = login(client, "bund")
        mine = client.get("/api/v1/stats", headers=bund).json()
        assert mine["total"] == 1 and mine["unit_id"] == STREET_B
        assert [u["unit_id"] for u in mine["by_unit"]] == [STREET_B]
        for other in (STREET_A, DISTRICT, "no-such-unit"):
            refused = client.get("/api/v1/stats", params={"unit_id": other}, headers=bund)
            assert refused.status_code == 404, other
        bad = client.get("/api/v1/stats", params={"since": "2024-05-01T00:00:00"}, headers=city)
        assert bad.status_code == 422 and "time zone" in bad.text
