"""The webhooks API (admins): subscriptions, the delivery log, dead letters, the retry button;
and the dispatcher running in the server's lifespan against a real receiver on loopback."""

from __future__ import annotations

import json
import time
from pathlib import Path

from sqlalchemy import func, select

from server.core.config import Settings, load_settings
from server.state import ServerState
from server.tables import UserRole
from server.webhooks.signing import verify
from server.webhooks.tables import DeliveryStatus, WebhookCursor
from tests.server.builders import T0
from tests.server.webhooks.receiver import receiver
from tests.server.webhooks.seed import (
    STREET_A,
    add_user,
    app_state,
    login,
    open_app,
    seed_case,
    seed_units,
)


def _settings(db_url: str, tmp_path: Path, **overrides: object) -> Settings:
    return load_settings(
        None,
        database_url=db_url,
        evidence_dir=tmp_path / "evidence",
        mqtt_enabled=False,
        **overrides,
    )


def _cursors(state: ServerState) -> int:
    with state.session_factory() as session:
        return session.scalar(select(func.count()).select_from(WebhookCursor)) or 0


def _wait(predicate, timeout_s: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_subscriptions_show_their_secret_once(db_url: str, tmp_path: Path) -> None:
    settings = _settings(db_url, tmp_path, webhooks={"enabled": False})
    with open_app(settings) as client:
        with app_state(client).session_factory() as session, session.begin():
            seed_units(session, T0)
        created = client.post(
            "/api/v1/webhooks",
            json={
                "name": "城管案件系统",
                "url": "https://cases.example.gov.cn/hooks/civicwatch",
                "kinds": ["created", "closed", "created"],
                "unit_id": STREET_A,
            },
        )
        assert created.status_code == 201, created.text
        body = created.json()
        secret = body["secret"]
        assert secret.startswith("whsec_") and len(secret) > 40
        assert body["kinds"] == ["closed", "created"]
        listed = client.get("/api/v1/webhooks")
        assert listed.status_code == 200
        assert secret not in listed.text and "secret" not in listed.json()["items"][0]
        one = client.get(f"/api/v1/webhooks/{body['id']}")
        assert "secret" not in one.json()
        patched = client.patch(f"/api/v1/webhooks/{body['id']}", json={"enabled": False})
        assert patched.json()["enabled"] is False and "secret" not in patched.json()
        rotated = client.patch(f"/api/v1/webhooks/{body['id']}", json={"rotate_secret": True})
        assert rotated.json()["secret"] not in (secret, None)
        for bad, message in [
            ({"url": "ftp://x/y"}, "http"),
            ({"url": "https://user:pw@example.org/h"}, "user name or password"),
            ({"unit_id": "no-such-unit"}, "does not exist"),
        ]:
            refused = client.post(
                "/api/v1/webhooks",
                json={"name": "x", "url": "https://example.org/h", "kinds": ["created"], **bad},
            )
            assert refused.status_code == 422 and message in refused.text, refused.text
        assert (
            client.post(
                "/api/v1/webhooks", json={"name": "x", "url": "https://e.org/h", "kinds": []}
            ).status_code
            == 422
        )
        assert client.delete(f"/api/v1/webhooks/{body['id']}").status_code == 204
        assert client.get(f"/api/v1/webhooks/{body['id']}").status_code == 404
        assert client.post("/api/v1/webhooks/deliveries/999/retry").status_code == 404
        assert client.get("/api/v1/webhooks/deliveries/999").status_code == 404


def test_only_admins_manage_webhooks(db_url: str, tmp_path: Path) -> None:
    settings = _settings(db_url, tmp_path, auth_enabled=True, webhooks={"enabled": False})
    with open_app(settings) as client:
        with app_state(client).session_factory() as session, session.begin():
            seed_units(session, T0)
            add_user(session, name="rev", role=UserRole.REVIEWER, unit_id=STREET_A)
        headers = login(client, "rev")
        assert client.get("/api/v1/webhooks", headers=headers).status_code == 403
        assert client.get("/api/v1/webhooks/dead-letters", headers=headers).status_code == 403
        client.cookies.clear()  # the login's session cookie
        assert client.get("/api/v1/webhooks").status_code == 401


def test_the_server_delivers_signed_retries_after_a_failure_and_retries_by_hand(
    db_url: str, tmp_path: Path
) -> None:
    settings = _settings(
        db_url,
        tmp_path,
        webhooks={
            "poll_interval_s": 0.05,
            "settle_s": 0,
            "backoff_base_s": 0.2,
            "backoff_max_s": 0.4,
            "max_attempts": 2,
            "timeout_s": 5,
        },
    )
    with receiver(codes=[500]) as hook, open_app(settings) as client:
        state = app_state(client)
        with state.session_factory() as session, session.begin():
            seed_units(session, T0)
        created = client.post(
            "/api/v1/webhooks",
            json={"name": "city", "url": hook.url, "kinds": ["created"]},
        ).json()
        _wait(lambda: _cursors(state) == 3)  # started: what exists before is history
        with state.session_factory() as session, session.begin():
            case_id = seed_case(session, number=1, received_at=T0).id
        _wait(lambda: len(hook.calls) == 2)  # 500 once, then the retry after the back-off
        first, second = hook.calls
        assert first.body == second.body
        for call in hook.calls:
            assert verify(
                secret=created["secret"],
                timestamp=call.headers["X-Civicwatch-Timestamp"],
                body=call.body,
                signature=call.headers["X-Civicwatch-Signature"],
                now=time.time(),
            )
        assert json.loads(second.body)["case"]["id"] == case_id
        log = client.get("/api/v1/webhooks/deliveries", params={"case_id": case_id}).json()
        assert log["total"] == 1
        (item,) = log["items"]
        _wait(
            lambda: (
                client.get(f"/api/v1/webhooks/deliveries/{item['id']}").json()["status"]
                == "delivered"
            )
        )
        detail = client.get(f"/api/v1/webhooks/deliveries/{item['id']}").json()
        assert [a["status_code"] for a in detail["attempt_log"]] == [200, 500]
        assert detail["body"] == json.loads(second.body)
        assert client.post(f"/api/v1/webhooks/deliveries/{item['id']}/retry").status_code == 409
        metrics = client.get("/metrics").text
        assert 'civicwatch_webhook_failures_total{outcome="retry"} 1.0' in metrics

        # A receiver that keeps failing: dead after max_attempts, then the retry button.
        hook.codes.extend([503, 503])
        with state.session_factory() as session, session.begin():
            seed_case(session, number=2, received_at=T0)
        _wait(lambda: client.get("/api/v1/webhooks/dead-letters").json()["total"] == 1)
        dead = client.get("/api/v1/webhooks/dead-letters").json()["items"][0]
        assert dead["status"] == "dead" and dead["last_status_code"] == 503
        retried = client.post(f"/api/v1/webhooks/deliveries/{dead['id']}/retry")
        assert retried.status_code == 200 and retried.json()["status"] == "pending"
        _wait(lambda: len(hook.calls) == 5)
        _wait(
            lambda: (
                client.get(f"/api/v1/webhooks/deliveries/{dead['id']}").json()["status"]
                == DeliveryStatus.DELIVERED.value
            )
        )
        assert client.get("/api/v1/webhooks/dead-letters").json()["total"] == 0
