"""Issue 17 on the review page (real headless Chromium, real uvicorn, real Mosquitto ingest).

Every case in the queue carries its chain badge; the quarantine is visible with its
reasons; confirming a case whose chain is not verified asks for an override reason and
is recorded as one; the queue pages instead of cutting off.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.core.config import load_settings
from tests.contracts.chain_builders import Signer, edge_messages, make_event
from tests.security.ingest_support import event_message, trust_server
from tests.security.test_ingest_trust import _quarantined
from tests.server.test_review_page import CHROMIUM, CHROMIUM_ARGS
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.integration


@pytest.fixture
def browser() -> Iterator[Any]:
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is missing (Debian package 'chromium'); the page test needs it")
    sync_api = pytest.importorskip("playwright.sync_api", reason="python playwright drives it")
    with sync_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def test_badges_quarantine_override_and_paging(
    mqtt_broker: Any, tmp_path: Path, browser: Any
) -> None:
    with trust_server(tmp_path / "wire", mqtt_broker) as wire:
        edge = Signer(edge_id="edge-a")
        wire.register(edge)
        for n in range(52):  # more than one page of 50
            wire.send(edge_messages(edge, seed=f"q{n}", n_evidence=1)[1])
        gap_edge = Signer(edge_id="edge-b")
        wire.register(gap_edge)
        gap_edge.seq, gap_edge.head = 3, "3" * 64
        flagged, messages = edge_messages(gap_edge, seed="gap", n_evidence=1)
        wire.send(messages)
        forged = make_event(edge_id="edge-x")
        wire.send([event_message(forged)])
        assert len(_quarantined(wire)) == 1
        settings = load_settings(
            None,
            database_url=wire.state.settings.database_url,
            evidence_dir=wire.state.settings.evidence_dir,
            mqtt_enabled=False,
        )
        with LiveServer(settings) as live:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("dialog", lambda dialog: dialog.accept("checked on the live camera"))
            page.goto(f"{live.url}/")
            page.locator("article.case").first.wait_for(timeout=10_000)
            cards = page.locator("article.case")
            assert cards.count() == 50
            badges = page.locator("article.case .chain")
            assert badges.count() == 50  # every case in the queue carries its badge
            assert page.locator("#page-info").inner_text() == "1–50 / 53"
            page.locator("#next-page").click()
            page.wait_for_function(
                "() => document.querySelector('#page-info').textContent === '51–53 / 53'"
            )
            assert page.locator("article.case").count() == 3
            quarantine = page.locator("#quarantine-list li")
            quarantine.first.wait_for(timeout=10_000)
            assert forged.event_id in quarantine.first.inner_text()
            assert "no chain record" in quarantine.first.inner_text()

            case = next(
                item
                for item in httpx.get(f"{live.url}/api/v1/cases", params={"limit": 200}).json()[
                    "items"
                ]
                if item["event_id"] == flagged.event_id
            )
            card = page.locator(f"article.case[data-case-id='{case['id']}']")
            if card.count() == 0:
                page.locator("#prev-page").click()
            card.wait_for(timeout=10_000)
            assert card.locator(".chain").get_attribute("data-chain") == "flagged"
            card.locator("button[data-verdict='confirm']").click()
            card.wait_for(state="detached", timeout=30_000)
            detail = httpx.get(f"{live.url}/api/v1/cases/{case['id']}").json()
            assert detail["status"] == "confirmed"
            review = detail["reviews"][-1]
            assert (review["chain_override"], review["chain_status"], review["reason"]) == (
                True,
                "flagged",
                "checked on the live camera",
            )
            assert errors == []
