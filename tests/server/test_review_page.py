"""The review page in real headless Chromium against a real uvicorn server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts.events import EvidenceKind
from server.core.config import load_settings
from server.ingest import IngestContext, dispatch
from tests.server import builders as b
from tests.server.conftest import NOW
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    settings = load_settings(
        None,
        database_url=f"sqlite:///{tmp_path / 'cases.db'}",
        evidence_dir=tmp_path / "evidence",
        mqtt_enabled=False,
    )
    with LiveServer(settings) as server:
        yield server


def seed_case(live: LiveServer, n: int) -> b.Item:
    state = live.state
    context = IngestContext(store=state.store, limits=b.UNCHAINED)
    annotated = b.item(b.jpeg(30 + n, (320, 180)), EvidenceKind.ANNOTATED)
    crop = b.item(b.jpeg(40 + n, (60, 80)), EvidenceKind.CROP)
    ev = b.event(event_id=f"{n:032x}", evidence=[annotated.ref, crop.ref])
    messages = [
        (b.evidence_topic(annotated), annotated.data, "image/jpeg"),
        (b.evidence_topic(crop), crop.data, "image/jpeg"),
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
    return annotated


@pytest.fixture
def browser() -> Iterator[Any]:
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is missing (Debian package 'chromium'); the page test needs it")
    sync_api = pytest.importorskip("playwright.sync_api", reason="python playwright drives it")
    with sync_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def test_review_page_shows_a_case_and_confirms_it(live: LiveServer, browser: Any) -> None:
    seed_case(live, 1)
    page = browser.new_page()
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    external: list[str] = []
    page.on(
        "request",
        lambda request: None if request.url.startswith(live.url) else external.append(request.url),
    )
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: dialog.accept("seen on the live camera"))  # chain override

    page.goto(f"{live.url}/")
    card = page.locator("article.case[data-case-id='1']")
    card.wait_for(timeout=10_000)
    text = card.inner_text()
    for expected in (
        "占道设摊",
        "street_stall",
        "cam-1",
        "sidewalk-a",
        "stall",
        "2024-05-01 16:00:00",  # Asia/Shanghai
        "30 秒",
    ):
        assert expected in text, f"{expected!r} not on the card:\n{text}"
    assert card.locator("time").first.get_attribute("title") == "2024-05-01 08:00:00 UTC"
    for kind, width in (("annotated", 320), ("crop", 60)):
        image = card.locator(f"img[data-kind='{kind}']")
        image.wait_for(timeout=10_000)
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0",
            arg=image.element_handle(),
            timeout=10_000,
        )
        assert image.evaluate("img => img.naturalWidth") == width, kind

    card.locator("button[data-verdict='confirm']").click()
    card.wait_for(state="detached", timeout=30_000)  # confirmed cases leave the queue
    page.select_option("#status-filter", "")
    status = page.locator("article.case[data-case-id='1'] .status")
    status.wait_for(timeout=10_000)
    assert status.get_attribute("data-status") == "confirmed"
    assert httpx.get(f"{live.url}/api/v1/cases/1").json()["status"] == "confirmed"
    assert failed == [] and external == [] and errors == []


def test_reject_asks_for_a_reason(live: LiveServer, browser: Any) -> None:
    seed_case(live, 2)
    page = browser.new_page()
    page.on("dialog", lambda dialog: dialog.accept("pedestrian with umbrella"))
    page.goto(f"{live.url}/review")
    card = page.locator("article.case[data-case-id='1']")
    card.wait_for(timeout=10_000)
    card.locator("button[data-verdict='reject']").click()
    card.wait_for(state="detached", timeout=30_000)
    case = httpx.get(f"{live.url}/api/v1/cases/1").json()
    assert (case["status"], case["review_reason"]) == ("rejected", "pedestrian with umbrella")


def test_api_docs_render_without_network(live: LiveServer, browser: Any) -> None:
    page = browser.new_page()
    external: list[str] = []
    page.on(
        "request",
        lambda request: None if request.url.startswith(live.url) else external.append(request.url),
    )
    page.goto(f"{live.url}/docs")
    page.locator(".opblock-summary-path").first.wait_for(timeout=15_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/v1/cases/{case_id}/review" in p.replace("\u200b", "") for p in paths), paths
    assert external == []
