"""The webhook page (admins) in Chromium: a receiver that is down gives a dead letter, shown
with its error; the retry button makes it due again through the API (with the CSRF header)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from civicwatch.services import free_port
from tests.server.pages.support import browser, city_settings, ingest_case
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.integration

__all__ = ["browser"]


@pytest.fixture
def hooked(tmp_path: Path) -> Iterator[LiveServer]:
    fast = {"max_attempts": 1, "poll_interval_s": 0.2, "timeout_s": 1.0, "lease_s": 5.0}
    with LiveServer(city_settings(tmp_path, auth_enabled=False, webhooks=fast)) as server:
        yield server


def test_a_dead_letter_is_listed_and_retried(hooked: LiveServer, browser: Any) -> None:
    api = f"{hooked.url}/api/v1/webhooks"
    nobody = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    body = {"name": "城管案件系统", "url": nobody, "kinds": ["created"]}
    assert httpx.post(api, json=body).status_code == 201
    ingest_case(hooked, 3, edge_id="demo-edge", camera_id="demo-cam")
    deadline = time.monotonic() + 30
    while not httpx.get(f"{api}/dead-letters").json()["items"]:
        assert time.monotonic() < deadline, httpx.get(f"{api}/deliveries").json()
        time.sleep(0.2)
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{hooked.url}/")
    assert page.locator("header.top nav a[data-nav='webhooks']").inner_text() == "推送"
    page.goto(f"{hooked.url}/webhooks")
    row = page.locator("#deliveries tr[data-status='dead']").first
    row.wait_for(timeout=20_000)
    assert "城管案件系统" in row.inner_text() and "#1" in row.inner_text()
    assert row.locator(".last-error").inner_text() != ""
    delivery = int(row.get_attribute("data-delivery-id") or 0)
    assert len(httpx.get(f"{api}/deliveries/{delivery}").json()["attempt_log"]) == 1
    row.locator("button[data-retry]").click()
    page.wait_for_function("() => document.querySelector('#message').textContent.length > 0")
    assert "将立即重试" in page.locator("#message").inner_text()
    while len(httpx.get(f"{api}/deliveries/{delivery}").json()["attempt_log"]) < 2:
        assert time.monotonic() < deadline + 30, "the retried delivery was not sent again"
        time.sleep(0.2)
    assert errors == []
