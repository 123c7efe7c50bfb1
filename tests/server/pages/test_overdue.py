"""Overdue cases on the pages (Chromium): the queue's overdue filter and badge, the case
page's badge and the statistics' overdue tiles, after the overdue check passed the deadline."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.core.db import utcnow
from server.lifecycle.overdue import check_overdue
from tests.server.pages.support import browser, city_settings, ingest_case
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.integration

__all__ = ["browser"]


@pytest.fixture
def late(tmp_path: Path) -> Iterator[LiveServer]:
    with LiveServer(city_settings(tmp_path, auth_enabled=False)) as live:
        ingest_case(live, 1, edge_id="demo-edge", camera_id="demo-cam")
        ingest_case(live, 2, edge_id="demo-edge", camera_id="demo-cam")
        api = f"{live.url}/api/v1/cases/1"
        confirm = {"verdict": "confirm", "reason": "核实", "override_chain": True}
        assert httpx.post(f"{api}/review", json=confirm).status_code == 200
        team = {"team_unit_id": "sh-huangpu-nanjingdong-team1"}
        assert httpx.post(f"{api}/dispatch", json=team).status_code == 200
        assert check_overdue(live.state.session_factory, now=utcnow() + timedelta(days=4)) == [1]
        yield live


def test_overdue_cases_are_shown_filtered_and_counted(late: LiveServer, browser: Any) -> None:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{late.url}/")
    page.locator("article.case[data-case-id='2']").wait_for(timeout=20_000)
    page.select_option("#status-filter", "")
    page.check("#overdue-filter")
    page.wait_for_function("() => document.querySelectorAll('article.case').length === 1")
    card = page.locator("article.case[data-case-id='1']")
    assert card.locator(".overdue").inner_text() == "已超期"
    assert "处置期限" in card.inner_text()
    page.goto(f"{late.url}/cases/1")
    page.locator("#case[data-ready='true']").wait_for(timeout=20_000)
    assert page.locator("#badges .overdue").is_visible()
    assert page.locator("#timeline li[data-action='overdue']").count() == 1
    page.goto(f"{late.url}/stats")
    page.locator("#stats[data-ready='true']").wait_for(timeout=20_000)
    assert page.locator("[data-tile='stats.overdue'] .tile-value").inner_text() == "1"
    assert page.locator("[data-tile='stats.overdue_open'] .tile-value").inner_text() == "1"
    assert errors == []
