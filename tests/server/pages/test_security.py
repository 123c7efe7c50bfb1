"""Security of the pages: a strict CSP on every page, no inline script or style and no HTML
built from data in the templates and scripts, and text from an edge or a user (a shop name,
a disposal note, a reason) shown as text in real Chromium."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from server.core.config import load_settings
from server.main import create_app
from server.middleware import content_security_policy
from tests.server import builders as b
from tests.server.pages.support import browser, city_settings, ingest_case
from tests.support.live_server import LiveServer

__all__ = ["browser"]

SERVER = Path(__file__).resolve().parents[3] / "server"
PAGES = ("/", "/review", "/stats", "/map", "/webhooks", "/login", "/cases/1")
XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


def test_every_page_has_the_strict_policy(client: TestClient) -> None:
    for path in PAGES:
        reply = client.get(path)
        policy = reply.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'self';" in policy, path
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, path
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
        assert reply.headers["x-frame-options"] == "DENY"
        assert reply.headers["x-content-type-options"] == "nosniff"
        assert "http://" not in reply.text and "https://" not in reply.text, path


def test_a_tile_server_is_the_only_other_image_origin(tmp_path: Path) -> None:
    settings = load_settings(
        None,
        database_url=f"sqlite:///{tmp_path / 'c.db'}",
        evidence_dir=tmp_path / "evidence",
        mqtt_enabled=False,
        map_tile_url="https://tiles.city.local:8443/{z}/{x}/{y}.png",
    )
    with TestClient(create_app(settings)) as client:
        reply = client.get("/map")
    policy = reply.headers["content-security-policy"]
    assert "img-src 'self' https://tiles.city.local:8443;" in policy
    assert policy.count("tiles.city.local") == 1
    assert 'data-tile-url="https://tiles.city.local:8443/{z}/{x}/{y}.png"' in reply.text
    assert content_security_policy() == policy.replace(" https://tiles.city.local:8443", "")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://tiles/{z}/{x}/{y}", "http or https"),
        ("https://tiles/{z}/{x}.png", "lacks {y}"),
        ("tiles/{z}/{x}/{y}", "http or https"),
    ],
)
def test_a_bad_tile_url_is_refused(tmp_path: Path, url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        load_settings(None, map_tile_url=url)


def test_templates_and_scripts_build_no_html_from_data() -> None:
    for path in (SERVER / "templates").rglob("*.html"):
        text = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), f"inline script in {path}"
        assert not re.search(r"\sstyle=", text), f"inline style in {path}"
        assert not re.search(r"\son[a-z]+=", text), f"inline handler in {path}"
        assert "|safe" not in text.replace(" ", "") and "autoescape false" not in text, path
    for path in (SERVER / "static" / "js").glob("*.js"):
        text = path.read_text()
        for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert banned not in text, f"{banned} in {path}"
        assert "new Function" not in text and 'setAttribute("style"' not in text, path


@pytest.fixture
def open_city(tmp_path: Path) -> Iterator[LiveServer]:
    """The seeded city without logins (the anonymous admin acts everywhere)."""
    with LiveServer(city_settings(tmp_path, auth_enabled=False)) as server:
        yield server


@pytest.mark.integration
def test_text_from_an_edge_or_a_user_is_shown_as_text(
    open_city: LiveServer, browser: Any, tmp_path: Path
) -> None:
    live = open_city
    ingest_case(
        live,
        7,
        edge_id="demo-edge",
        camera_id="demo-cam",
        rule="cross_door",
        violation_type="cross_door",
        label="goods",
        zone_id="frontage-1",
        details={"shop_id": "fz-112", "shop_name": XSS},
    )
    api = f"{live.url}/api/v1/cases/1"
    with httpx.Client(timeout=20) as client:
        confirm = {"verdict": "confirm", "reason": XSS, "override_chain": True}
        assert client.post(f"{api}/review", json=confirm).status_code == 200
        dispatch = {"team_unit_id": "sh-huangpu-nanjingdong-team1", "note": XSS}
        assert client.post(f"{api}/dispatch", json=dispatch).status_code == 200
        photo = ("after.jpg", b.jpeg(5, (320, 200)), "image/jpeg")
        disposal = client.post(f"{api}/disposals", files={"photos": photo}, data={"note": XSS})
        assert disposal.status_code == 201, disposal.text
        notice = {"channel": "paper", "text": XSS, "sent_at": "2024-05-01T10:00:00+08:00"}
        assert client.post(f"{api}/notices", json=notice).status_code == 201
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live.url}/cases/1")
    page.locator("#case[data-ready='true']").wait_for(timeout=20_000)
    assert page.locator("#shop-facts").inner_text().count(XSS) == 1
    assert XSS in page.locator("#disposals .note").inner_text()
    page.locator("#notices .notice-text").wait_for(timeout=10_000)
    assert page.locator("#notices .notice-text").inner_text() == XSS
    assert "书面" in page.locator("#notices").inner_text()
    assert XSS in page.locator("#timeline").inner_text()  # dispatch note
    assert XSS in page.locator("#facts").inner_text()  # the confirmation reason
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("script:not([src])").count() == 0
    page.goto(f"{live.url}/?x=1")
    page.select_option("#status-filter", "")
    card = page.locator("article.case[data-case-id='1']")
    card.wait_for(timeout=20_000)
    assert XSS in card.inner_text()
    assert page.evaluate("() => window.__xss") is None
    assert page.locator("img[src='x']").count() == 0
    assert errors == []


@pytest.mark.integration
def test_the_map_draws_intranet_tiles_when_set(tmp_path: Path, browser: Any) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    cv2 = pytest.importorskip("cv2", reason="OpenCV encodes the tile")
    import numpy as np

    ok, tile = cv2.imencode(".png", np.full((256, 256, 3), 200, dtype=np.uint8))
    assert ok
    asked: list[str] = []

    class Tiles(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write(tile.tobytes())

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Tiles)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/{{z}}/{{x}}/{{y}}.png"
    settings = city_settings(tmp_path, auth_enabled=False, map_tile_url=url)
    try:
        with LiveServer(settings) as live:
            page = browser.new_page()
            blocked: list[str] = []
            page.on(
                "console",
                lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None,
            )
            page.goto(f"{live.url}/map")
            page.locator("#map[data-ready='true']").wait_for(timeout=20_000)
            tiles = page.locator("#map svg g.tiles image")
            assert tiles.count() >= 4
            deadline = time.monotonic() + 10
            while len(asked) < tiles.count() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert len(asked) >= 4 and all(re.fullmatch(r"/1[0-9]/\d+/\d+\.png", p) for p in asked)
            assert blocked == []
    finally:
        server.shutdown()
