"""Shared helpers of the page tests: a live server with the seeded city and logins, real
ingest of cases, and Chromium sessions (one browser context per user)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from contracts.events import EvidenceKind
from server import auth
from server.core.config import Settings, load_settings
from server.core.db import utcnow
from server.ingest import IngestContext, dispatch
from server.tables import UserRole
from tests.server import builders as b
from tests.server.conftest import NOW
from tests.server.test_review_page import CHROMIUM, CHROMIUM_ARGS
from tests.support.live_server import LiveServer

ROOT = Path(__file__).resolve().parents[3]
UNITS_FILE = ROOT / "configs" / "units.yaml"
"""The demo's seeded city (h1's units file): 市 → 2 区 → 3 街镇, a team under each."""
PASSWORD = "Walk-the-Case-2024"  # throw-away accounts in a throw-away database


@dataclass(frozen=True)
class Account:
    username: str
    role: UserRole
    unit_id: str | None


def city_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """A server with logins on, the seeded city loaded at start and no MQTT."""
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'cases.db'}",
        "evidence_dir": tmp_path / "evidence",
        "dead_letter_dir": tmp_path / "dead-letter",
        "mqtt_enabled": False,
        "auth_enabled": True,
        "units_file": UNITS_FILE,
    }
    values.update(overrides)
    return load_settings(None, **values)


def add_accounts(live: LiveServer, accounts: list[Account]) -> None:
    with live.state.session_factory() as session, session.begin():
        for account in accounts:
            auth.create_user(
                session,
                username=account.username,
                password=PASSWORD,
                role=account.role,
                now=utcnow(),
                unit_id=account.unit_id,
            )


def ingest_case(
    live: LiveServer,
    n: int,
    *,
    edge_id: str,
    camera_id: str,
    **event_fields: Any,
) -> None:
    """One candidate case through the ingest's own dispatch (evidence first, then the event)."""
    state = live.state
    context = IngestContext(store=state.store, limits=b.UNCHAINED)
    annotated = b.item(b.jpeg(300 + n, (320, 180)), EvidenceKind.ANNOTATED)
    crop = b.item(b.jpeg(400 + n, (60, 80)), EvidenceKind.CROP)
    ev = b.event(
        event_id=f"{0xA000 + n:032x}",
        evidence=[annotated.ref, crop.ref],
        edge_id=edge_id,
        camera_id=camera_id,
        **event_fields,
    )
    messages = [
        (b.evidence_topic(annotated, edge_id), annotated.data, "image/jpeg"),
        (b.evidence_topic(crop, edge_id), crop.data, "image/jpeg"),
        (b.event_topic(ev), ev.to_json(), "application/json"),
    ]
    for topic, payload, content_type in messages:
        outcome = dispatch(
            state.session_factory,
            topic,
            payload,
            b.props(content_type),
            context=context,
            metrics=state.metrics,
            now=NOW,
        )
        assert outcome.accepted, outcome


@pytest.fixture
def browser() -> Iterator[Any]:
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is missing (Debian package 'chromium'); the page test needs it")
    sync_api = pytest.importorskip("playwright.sync_api", reason="python playwright drives it")
    with sync_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


class Visitor:
    """One user's own browser context, logged in through the login page; records page
    errors, failed requests and any request that leaves the server."""

    def __init__(self, browser: Any, live: LiveServer, username: str) -> None:
        self.live = live
        self.context = browser.new_context(viewport={"width": 1280, "height": 800})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.external: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on(
            "request",
            lambda request: (
                None if request.url.startswith(live.url) else self.external.append(request.url)
            ),
        )
        self.page.on(
            "console",
            lambda message: (
                self.errors.append(message.text)
                if message.type == "error" and "Content Security Policy" in message.text
                else None
            ),
        )
        self.page.goto(f"{live.url}/")
        self.page.wait_for_url(f"{live.url}/login")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(f"{live.url}/")

    def open_case(self, case_id: int) -> Any:
        self.page.goto(f"{self.live.url}/cases/{case_id}")
        self.page.locator("#case[data-ready='true']").wait_for(timeout=20_000)
        return self.page

    def act(self, action: str, fill: dict[str, str] | None = None) -> str:
        """Click an action button, fill its form, submit; the case's status afterwards."""
        page = self.page
        moves = "#timeline li[data-action]"
        before = page.locator(moves).count()
        page.locator(f"#actions button[data-action='{action}']").click()
        form = page.locator("#action-form")
        for selector, value in (fill or {}).items():
            form.locator(selector).fill(value)
        form.locator("button[type=submit]").click()
        try:
            page.wait_for_function(
                f"n => document.querySelectorAll({moves!r}).length > n", arg=before, timeout=20_000
            )
        except Exception as exc:
            message = page.locator("#message").inner_text()
            raise AssertionError(f"{action} did not happen: {message!r}") from exc
        return str(page.locator("#case").get_attribute("data-status"))

    def close(self) -> None:
        self.context.close()
