"""The camera pages are rendered by the pages' own renderer: the same header (admins get the
推送 link, others do not), the locale switch, the user and their unit, the login redirect and
the CSRF cookie as on every other page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server import auth
from server.csrf import CSRF_COOKIE
from server.main import create_app
from server.state import ServerState
from server.tables import UserRole
from tests.server.conftest import NOW
from tests.server.pages.support import PASSWORD, city_settings

PAGES = ("/cameras", "/cameras/7/zones")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(city_settings(tmp_path))) as client:
        state: ServerState = client.app.state.civicwatch  # type: ignore[attr-defined]
        with state.session_factory() as session, session.begin():
            auth.create_user(
                session,
                username="ada",
                password=PASSWORD,
                role=UserRole.ADMIN,
                now=NOW,
                unit_id="sh",
            )
            auth.create_user(
                session,
                username="otto",
                password=PASSWORD,
                role=UserRole.OPERATOR,
                now=NOW,
                unit_id="sh-huangpu-nanjingdong",
            )
        yield client


def _login(client: TestClient, username: str) -> None:
    reply = client.post(
        "/login", data={"username": username, "password": PASSWORD}, follow_redirects=False
    )
    assert reply.status_code == 303, reply.text


@pytest.mark.parametrize("path", PAGES)
def test_without_a_login_the_camera_pages_send_to_the_login_page(
    client: TestClient, path: str
) -> None:
    reply = client.get(path, follow_redirects=False)
    assert reply.status_code == 303 and reply.headers["location"] == "/login"


@pytest.mark.parametrize("path", PAGES)
def test_an_admin_sees_the_webhooks_link_and_their_unit(client: TestClient, path: str) -> None:
    _login(client, "ada")
    page = client.get(path)
    assert page.status_code == 200
    assert 'data-nav="webhooks"' in page.text and "推送" in page.text
    assert 'data-nav="cameras" aria-current="page"' in page.text
    assert 'data-unit-id="sh">上海市<' in page.text
    assert any(c.startswith(f"{CSRF_COOKIE}=") for c in page.headers.get_list("set-cookie"))


@pytest.mark.parametrize("path", PAGES)
def test_an_operator_gets_no_webhooks_link_and_the_chosen_locale(
    client: TestClient, path: str
) -> None:
    _login(client, "otto")
    assert 'data-nav="webhooks"' not in client.get(path).text
    client.get(f"/locale/en?next={path}")
    page = client.get(path)
    assert page.status_code == 200 and '<html lang="en"' in page.text
    assert "Nanjing East Road Subdistrict" in page.text
    assert 'data-nav="webhooks"' not in page.text
