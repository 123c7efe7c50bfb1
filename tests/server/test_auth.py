"""Logins and roles on the HTTP API and the review page (auth_enabled), SQLite only."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient
from sqlalchemy import select

from server import auth, chain_store
from server.core.config import load_settings
from server.core.db import utcnow
from server.ingest import IngestContext, dispatch
from server.main import create_app
from server.state import ServerState
from server.tables import ApiToken, User, UserRole
from tests.contracts.chain_builders import Signer, edge_messages
from tests.server import builders as b
from tests.server.conftest import NOW

PASSWORDS = {
    "olga": ("operator", "operator-pass-1"),
    "rita": ("reviewer", "reviewer-pass-1"),
    "adam": ("admin", "admin-pass-123"),
    "edgy": ("edge", "edge-device-pass"),
}


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[TestClient]:
    settings = load_settings(
        None,
        database_url=f"sqlite:///{tmp_path / 'cases.db'}",
        evidence_dir=tmp_path / "evidence",
        mqtt_enabled=False,
        auth_enabled=True,
    )
    with TestClient(create_app(settings)) as client:
        state: ServerState = client.app.state.civicwatch  # type: ignore[attr-defined]
        with state.session_factory() as session, session.begin():
            for name, (role, password) in PASSWORDS.items():
                auth.create_user(
                    session, username=name, password=password, role=UserRole(role), now=NOW
                )
        signer = Signer()
        pem = signer.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        with state.session_factory() as session, session.begin():
            chain_store.register_key(
                session, edge_id=signer.edge_id, public_key_text=pem.decode(), now=NOW
            )
        _, messages = edge_messages(signer, seed="auth")
        for m in messages:
            dispatch(
                state.session_factory,
                m.topic,
                m.payload,
                b.props(m.content_type),
                context=IngestContext(store=state.store, limits=b.UNCHAINED),
                metrics=state.metrics,
                now=NOW,
            )
        yield client


def login(client: TestClient, name: str) -> dict[str, str]:
    response = client.post(
        "/api/v1/auth/login", json={"username": name, "password": PASSWORDS[name][1]}
    )
    assert response.status_code == 200, response.text
    client.cookies.clear()  # each test request below states its own credentials
    return {"Authorization": f"Bearer {response.json()['token']}"}


def test_without_a_login_nothing_but_liveness_is_served(secured: TestClient) -> None:
    for path in ("/api/v1/cases", "/api/v1/cases/1", "/api/v1/edges/edge-1/chain"):
        response = secured.get(path)
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"] == "Bearer"
    sha = secured.get("/api/v1/cases", headers=login(secured, "olga")).json()["items"][0]
    assert secured.get(f"/api/v1/evidence/{sha['evidence'][0]['sha256']}").status_code == 401
    assert secured.post("/api/v1/cases/1/review", json={"verdict": "confirm"}).status_code == 401
    for path in ("/healthz", "/openapi.json", "/docs", "/redoc"):
        assert secured.get(path).status_code == 401, path
    assert secured.get("/livez").json() == {"status": "ok"}
    page = secured.get("/", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login"
    assert secured.get("/api/v1/cases", headers={"Authorization": "Bearer nope"}).status_code == 401


@pytest.mark.parametrize(
    ("user", "read", "review"),
    [("olga", 200, 403), ("rita", 200, 200), ("adam", 200, 200), ("edgy", 403, 403)],
)
def test_roles(secured: TestClient, user: str, read: int, review: int) -> None:
    headers = login(secured, user)
    listed = secured.get("/api/v1/cases", headers=headers)
    assert listed.status_code == read
    sha = secured.get("/api/v1/cases", headers=login(secured, "adam")).json()["items"][0][
        "evidence"
    ][0]["sha256"]
    assert secured.get(f"/api/v1/evidence/{sha}", headers=headers).status_code == read
    verdict = secured.post(
        "/api/v1/cases/1/review",
        json={"verdict": "escalate", "reviewer": "someone else"},
        headers=headers,
    )
    assert verdict.status_code == review, verdict.text
    if review == 200:
        assert verdict.json()["reviewer"] == user  # the account signs, not the body
    me = secured.get("/api/v1/auth/me", headers=headers).json()
    assert me == {"username": user, "role": PASSWORDS[user][0], "authenticated": True}


def test_wrong_passwords_and_unknown_users_are_refused_alike(
    secured: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        wrong = secured.post(
            "/api/v1/auth/login", json={"username": "rita", "password": "reviewer-pass-2"}
        )
        nobody = secured.post(
            "/api/v1/auth/login", json={"username": "nobody", "password": "whatever-12"}
        )
        good = secured.post(
            "/api/v1/auth/login", json={"username": "rita", "password": "reviewer-pass-1"}
        )
    assert wrong.status_code == nobody.status_code == 401
    assert wrong.json() == nobody.json() == {"detail": "wrong user name or password"}
    assert good.status_code == 200
    token = good.json()["token"]
    for secret in ("reviewer-pass-1", "reviewer-pass-2", "whatever-12", token):
        assert secret not in caplog.text  # no secret in any log line


def test_passwords_are_argon2id_and_tokens_stored_hashed(secured: TestClient) -> None:
    token = login(secured, "rita")["Authorization"].split()[1]
    state: ServerState = secured.app.state.civicwatch  # type: ignore[attr-defined]
    with state.session_factory() as session:
        user = session.get(User, "rita")
        assert user is not None and user.password_hash.startswith("$argon2id$")
        stored = list(session.scalars(select(ApiToken.token_sha256)))
    assert token not in stored and all(len(digest) == 64 for digest in stored)


def test_logout_and_expiry_end_a_session(secured: TestClient) -> None:
    headers = login(secured, "olga")
    assert secured.get("/api/v1/cases", headers=headers).status_code == 200
    assert secured.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert secured.get("/api/v1/cases", headers=headers).status_code == 401
    headers = login(secured, "olga")
    state: ServerState = secured.app.state.civicwatch  # type: ignore[attr-defined]
    with state.session_factory() as session, session.begin():
        for row in session.scalars(select(ApiToken)):
            row.expires_at = utcnow() - timedelta(seconds=1)
    assert secured.get("/api/v1/cases", headers=headers).status_code == 401


def test_password_change_ends_sessions_and_short_passwords_are_refused(
    secured: TestClient,
) -> None:
    headers = login(secured, "olga")
    state: ServerState = secured.app.state.civicwatch  # type: ignore[attr-defined]
    with state.session_factory() as session, session.begin():
        auth.set_password(session, username="olga", password="a-new-password")
        with pytest.raises(auth.UserError, match="at least 10"):
            auth.set_password(session, username="olga", password="short")
        for weak, why in (
            ("aaaaaaaaaa", "different characters"),
            ("abababababab", "different characters"),
            ("olga12345678", "user name"),
            ("OLGA-2024-secret", "user name"),
            ("Password123!", "common"),
            ("qwertyuiop", "common"),
            ("1234567890", "common"),
        ):
            with pytest.raises(auth.UserError, match=why):
                auth.set_password(session, username="olga", password=weak)
        with pytest.raises(auth.UserError, match="exists"):
            auth.create_user(
                session, username="olga", password="long-enough-1", role=UserRole.ADMIN, now=NOW
            )
        with pytest.raises(auth.UserError, match="must match"):
            auth.create_user(
                session, username="../x", password="long-enough-1", role=UserRole.ADMIN, now=NOW
            )
    assert secured.get("/api/v1/cases", headers=headers).status_code == 401


def test_the_login_page_sets_a_session_cookie_for_the_review_page(secured: TestClient) -> None:
    form = secured.get("/login")
    assert form.status_code == 200 and 'name="password"' in form.text
    bad = secured.post("/login", data={"username": "rita", "password": "nope-nope-nope"})
    assert bad.status_code == 401 and "Wrong user name or password" in bad.text
    ok = secured.post(
        "/login",
        data={"username": "rita", "password": "reviewer-pass-1"},
        follow_redirects=False,
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    page = secured.get("/")  # the client keeps the cookie
    assert page.status_code == 200 and "review.js" in page.text
    assert secured.get("/api/v1/cases").status_code == 200  # the page's fetches carry it


def test_without_auth_everything_is_open_as_anonymous(client: TestClient) -> None:
    me = client.get("/api/v1/auth/me").json()
    assert me == {"username": "anonymous", "role": "admin", "authenticated": False}


def test_the_users_cli_creates_accounts_that_can_log_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    import yaml

    from server import users_cli

    config = tmp_path / "server.yaml"
    db_url = f"sqlite:///{tmp_path / 'cases.db'}"
    config.write_text(
        yaml.safe_dump(
            {
                "database_url": db_url,
                "evidence_dir": str(tmp_path / "ev"),
                "mqtt_enabled": False,
                "auth_enabled": True,
            }
        )
    )
    parser = argparse.ArgumentParser()
    users_cli.add_parser(parser.add_subparsers())

    def cli(*argv: str) -> int:
        args = parser.parse_args(list(argv))
        result: int = args.func(args)
        return result

    monkeypatch.setenv(users_cli.PASSWORD_ENV, "quiet-harbor-41")
    assert (
        cli("users", "add", "--username", "demo", "--role", "reviewer", "--config", str(config))
        == 0
    )
    assert (
        cli("users", "add", "--username", "demo", "--role", "admin", "--config", str(config)) == 2
    )
    monkeypatch.setenv(users_cli.PASSWORD_ENV, "short")
    assert cli("users", "passwd", "--username", "demo", "--config", str(config)) == 2
    assert cli("users", "list", "--config", str(config)) == 0
    out = capsys.readouterr().out
    assert "demo\treviewer\t" in out and "quiet-harbor-41" not in out
    settings = load_settings(config)
    with TestClient(create_app(settings)) as client:
        response = client.post(
            "/api/v1/auth/login", json={"username": "demo", "password": "quiet-harbor-41"}
        )
        assert response.status_code == 200 and response.json()["role"] == "reviewer"
