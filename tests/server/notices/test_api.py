"""Notices to the shop of a cross-door case over HTTP (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from server.core.config import load_settings
from server.core.db import utcnow
from server.tables import UserRole
from tests.server.builders import T0
from tests.server.webhooks.seed import (
    STREET_A,
    STREET_B,
    add_user,
    app_state,
    login,
    open_app,
    seed_case,
    seed_units,
)

SHOP = {"shop_id": "SH-0012", "shop_name": "李记水果", "objects": 3}


def test_notices_are_recorded_listed_and_refused_where_they_do_not_belong(
    db_url: str, tmp_path: Path
) -> None:
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
            add_user(session, name="rev", role=UserRole.REVIEWER, unit_id=STREET_A)
            add_user(session, name="watch", role=UserRole.OPERATOR, unit_id=STREET_A)
            add_user(session, name="bund", role=UserRole.DISPATCHER, unit_id=STREET_B)
            door = seed_case(session, number=1, violation="cross_door", details=SHOP).id
            stall = seed_case(session, number=2, violation="street_stall").id
        team = login(client, "rev")
        sent_at = (utcnow() - timedelta(minutes=10)).isoformat()
        notice = {"channel": "paper", "text": "请于今日内将货物移回门内。", "sent_at": sent_at}
        made = client.post(f"/api/v1/cases/{door}/notices", json=notice, headers=team)
        assert made.status_code == 201, made.text
        body = made.json()
        assert (body["shop_id"], body["shop_name"]) == ("SH-0012", "李记水果")
        assert body["recorded_by"] == "rev" and body["channel"] == "paper"
        client.post(
            f"/api/v1/cases/{door}/notices",
            json={**notice, "channel": "phone", "text": "电话提醒"},
            headers=team,
        )
        listed = client.get(f"/api/v1/cases/{door}/notices", headers=login(client, "watch"))
        assert listed.status_code == 200
        assert listed.json()["shop_name"] == "李记水果"
        assert [n["channel"] for n in listed.json()["items"]] == ["paper", "phone"]
        # Each notice is a record of the case's provable file (its hash chain).
        chain = client.get(f"/api/v1/cases/{door}/file-chain", headers=team).json()
        assert chain["ok"] is True, chain["problems"]
        notices = [r for r in chain["records"] if r["kind"] == "notice"]
        assert [(r["payload"]["channel"], r["payload"]["shop_id"]) for r in notices] == [
            ("paper", "SH-0012"),
            ("phone", "SH-0012"),
        ]
        assert notices[0]["payload"]["notice_id"] == body["id"]

        refused = client.post(f"/api/v1/cases/{stall}/notices", json=notice, headers=team)
        assert refused.status_code == 409 and "cross-door" in refused.json()["detail"]
        empty = client.get(f"/api/v1/cases/{stall}/notices", headers=team).json()
        assert empty == {"shop_id": None, "shop_name": None, "items": []}

        future = {**notice, "sent_at": (utcnow() + timedelta(hours=1)).isoformat()}
        url = f"/api/v1/cases/{door}/notices"
        assert client.post(url, json=future, headers=team).status_code == 422
        for bad in (
            {**notice, "channel": "fax"},
            {**notice, "text": ""},
            {**notice, "sent_at": "2024-05-01T08:00:00"},
        ):
            answer = client.post(f"/api/v1/cases/{door}/notices", json=bad, headers=team)
            assert answer.status_code == 422, bad
        # Operators read but do not record; another street does not see the case at all.
        watch = client.post(url, json=notice, headers=login(client, "watch"))
        assert watch.status_code == 403
        bund = login(client, "bund")
        assert client.post(url, json=notice, headers=bund).status_code == 404
        assert client.get(f"/api/v1/cases/{door}/notices", headers=bund).status_code == 404
