"""CSRF: the double-submit rule (pure) and the middleware on a real app with logins."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server import auth
from server.core.config import load_settings
from server.csrf import CSRF_COOKIE, SESSION_COOKIE, csrf_problem, csrf_token_for
from server.main import create_app
from server.state import ServerState
from server.tables import UserRole
from tests.server.conftest import NOW

SESSION = "s3ss10n-t0ken"
TOKEN = csrf_token_for(SESSION)


@pytest.mark.parametrize(
    ("method", "headers", "cookies", "refused"),
    [
        ("GET", {}, {SESSION_COOKIE: SESSION}, None),
        ("HEAD", {"sec-fetch-site": "cross-site"}, {SESSION_COOKIE: SESSION}, None),
        ("POST", {}, {}, None),  # no ambient credential
        ("POST", {"authorization": "Bearer abc"}, {SESSION_COOKIE: SESSION}, None),
        ("POST", {}, {SESSION_COOKIE: SESSION}, "missing"),
        ("DELETE", {}, {SESSION_COOKIE: SESSION, CSRF_COOKIE: TOKEN}, "missing"),
        ("POST", {"x-csrf-token": TOKEN}, {SESSION_COOKIE: SESSION, CSRF_COOKIE: TOKEN}, None),
        ("PATCH", {"x-csrf-token": TOKEN}, {SESSION_COOKIE: SESSION}, "does not match"),
        ("POST", {"x-csrf-token": "x"}, {SESSION_COOKIE: SESSION, CSRF_COOKIE: "x"}, "not match"),
        (
            "POST",
            {"x-csrf-token": csrf_token_for("other")},
            {SESSION_COOKIE: SESSION, CSRF_COOKIE: csrf_token_for("other")},
            "does not match",
        ),
        ("POST", {"sec-fetch-site": "cross-site"}, {}, "cross-site"),
        (
            "POST",
            {"sec-fetch-site": "cross-site", "authorization": "Bearer abc"},
            {},
            "cross-site",
        ),
        (
            "POST",
            {"sec-fetch-site": "same-origin", "x-csrf-token": TOKEN},
            {SESSION_COOKIE: SESSION, CSRF_COOKIE: TOKEN},
            None,
        ),
    ],
)
def test_csrf_problem(
    method: str, headers: dict[str, str], cookies: dict[str, str], refused: str | None
) -> None:
    problem = csrf_problem(method=method, headers=headers, cookies=cookies)
    if refused is None:
        assert problem is None
    else:
        assert problem is not None and refused in problem


def test_the_token_is_bound_to_the_session_and_not_the_stored_digest() -> None:
    assert csrf_token_for("a") != csrf_token_for("b")
    assert len(csrf_token_for("a")) == 64
    # the database keeps sha256(token): the CSRF cookie must not be that value
    import hashlib

    assert csrf_token_for("a") != hashlib.sha256(b"a").hexdigest()


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
            auth.create_user(
                session,
                username="rita",
                password="reviewer-pass-1",
                role=UserRole.REVIEWER,
                now=NOW,
            )
        yield client


def test_login_sets_the_csrf_cookie_and_state_changes_need_the_header(
    secured: TestClient,
) -> None:
    ok = secured.post(
        "/login",
        data={"username": "rita", "password": "reviewer-pass-1"},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    cookies = ok.headers.get_list("set-cookie")
    csrf = next(c for c in cookies if c.startswith(f"{CSRF_COOKIE}="))
    session = next(c for c in cookies if c.startswith(f"{SESSION_COOKIE}="))
    assert "HttpOnly" not in csrf and "samesite=strict" in csrf.lower()
    assert "HttpOnly" in session and "samesite=strict" in session.lower()
    token = secured.cookies[CSRF_COOKIE]
    assert token == csrf_token_for(secured.cookies[SESSION_COOKIE])

    body = {"verdict": "escalate"}
    refused = secured.post("/api/v1/cases/1/review", json=body)
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["detail"]
    wrong = secured.post("/api/v1/cases/1/review", json=body, headers={"X-CSRF-Token": "f" * 64})
    assert wrong.status_code == 403
    # with the header the request reaches the route (no such case: 404)
    passed = secured.post("/api/v1/cases/1/review", json=body, headers={"X-CSRF-Token": token})
    assert passed.status_code == 404
    # a page view renews the cookie for the same session
    page = secured.get("/")
    assert page.status_code == 200
    assert any(c.startswith(f"{CSRF_COOKIE}={token}") for c in page.headers.get_list("set-cookie"))
    # logging out is a state change too, and clears both cookies
    assert secured.post("/api/v1/auth/logout").status_code == 403
    out = secured.post("/api/v1/auth/logout", headers={"X-CSRF-Token": token})
    assert out.status_code == 204
    assert secured.get("/", follow_redirects=False).status_code == 303


def test_bearer_clients_need_no_csrf_token(secured: TestClient) -> None:
    login = secured.post(
        "/api/v1/auth/login", json={"username": "rita", "password": "reviewer-pass-1"}
    )
    bearer = {"Authorization": f"Bearer {login.json()['token']}"}
    # the session cookie is still in the client's jar; the bearer header wins
    reply = secured.post("/api/v1/cases/1/review", json={"verdict": "escalate"}, headers=bearer)
    assert reply.status_code == 404


def test_cross_site_posts_are_refused_even_to_the_login_form(secured: TestClient) -> None:
    reply = secured.post(
        "/login",
        data={"username": "rita", "password": "reviewer-pass-1"},
        headers={"Sec-Fetch-Site": "cross-site"},
        follow_redirects=False,
    )
    assert reply.status_code == 403
    assert SESSION_COOKIE not in secured.cookies


def test_without_logins_a_left_over_session_cookie_needs_no_token(client: TestClient) -> None:
    client.cookies.set(SESSION_COOKIE, "from-an-earlier-run")
    reply = client.post("/api/v1/cases/1/review", json={"verdict": "escalate"})
    assert reply.status_code == 404  # reached the route: no such case
    cross = client.post(
        "/api/v1/cases/1/review",
        json={"verdict": "escalate"},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert cross.status_code == 403
