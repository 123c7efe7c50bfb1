"""The zone editor and the camera list in real headless Chromium against a real server.

Without an edge (its own test, test_editor_browser.py, runs a real one): a snapshot arrives
through the ingest's own handler, a zone is drawn with the mouse, validated, saved; a stale save
gets the conflict message; an alarm turns the camera's row red.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts.topics import parse_edge_topic, snapshot_topic
from server.cameras.alarm_store import check_alarms
from server.cameras.alarms import AlarmThresholds
from server.core.config import load_settings
from server.core.db import utcnow
from server.ingest import IngestContext
from server.ingest.handlers import IngestMessage
from server.ingest.handlers.snapshot import handle_snapshot
from tests.server.cameras.conftest import (
    OTHER_STREET,
    add_units,
    camera_body,
    jpeg,
    snapshot_message,
)
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.integration

CATALOG = Path(__file__).resolve().parents[3] / "server" / "i18n" / "catalog"
ZH: dict[str, str] = json.loads((CATALOG / "cameras.zh-CN.json").read_text(encoding="utf-8"))


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    settings = load_settings(
        None,
        database_url=f"sqlite:///{tmp_path / 'cases.db'}",
        evidence_dir=tmp_path / "evidence",
        mqtt_enabled=False,
    )
    with LiveServer(settings) as server:
        add_units(server.state.session_factory)
        yield server


def _camera_with_snapshot(live: LiveServer) -> int:
    created = httpx.post(f"{live.url}/api/v1/cameras", json=camera_body())
    assert created.status_code == 201, created.text
    message = snapshot_message(jpeg(), at=utcnow())
    topic = snapshot_topic("edge-1", "cam-1")
    with live.state.session_factory() as session, session.begin():
        handle_snapshot(
            session,
            IngestMessage(topic=topic, address=parse_edge_topic(topic), payload=message.to_json()),
            context=IngestContext(store=live.state.store),
            now=utcnow(),
        )
    pk: int = created.json()["id"]
    return pk


def _watch(page: Any, live: LiveServer) -> list[str]:
    problems: list[str] = []
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and not m.location.get("url", "").endswith("/favicon.ico")
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "request",
        lambda r: None if r.url.startswith(live.url) else problems.append(f"external {r.url}"),
    )
    return problems


def _click_frame(page: Any, points: list[tuple[float, float]]) -> None:
    box = page.locator("#canvas").bounding_box()
    for x, y in points:
        page.mouse.click(box["x"] + x * box["width"], box["y"] + y * box["height"])


def test_draw_validate_save_and_conflict(live: LiveServer, browser: Any) -> None:
    pk = _camera_with_snapshot(live)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors = _watch(page, live)
    page.goto(f"{live.url}/cameras/{pk}/zones")
    page.wait_for_function("() => document.getElementById('snapshot').naturalWidth > 0")
    page.locator("#version", has_text="版本 1").wait_for()

    # A self-intersecting outline: the validator's message is drawn beside the shape.
    page.click("#add-zone")
    _click_frame(page, [(0.1, 0.5), (0.9, 0.9), (0.9, 0.5), (0.1, 0.9)])
    page.keyboard.press("Enter")
    page.click("#validate")
    page.wait_for_selector("#problems li")
    assert "self-intersecting" in page.locator("#problems li").first.inner_text()
    assert "self-intersecting" in (
        page.locator("#canvas text.problem-label").first.text_content() or ""
    )
    assert page.locator("#canvas g.zone.bad").count() == 1

    # Redraw it properly (a fifth corner removed again with a right click), name it, save.
    page.click("[data-tool=polygon]")
    _click_frame(page, [(0.1, 0.5), (0.9, 0.5), (0.9, 0.9), (0.5, 0.95), (0.1, 0.9)])
    page.click("#finish-shape")
    assert page.locator("#canvas circle.handle").count() == 5
    page.locator("#canvas circle.handle").nth(3).click(button="right")
    assert page.locator("#canvas circle.handle").count() == 4
    page.fill("#zone-fields input[name=id]", "pavement")
    page.fill("#zone-fields input[name=name]", "南侧人行道")
    page.locator("#zone-fields input[name=name]").dispatch_event("change")
    page.fill("#comment", "first zone")
    page.click("#save")
    page.locator("#version", has_text="版本 2").wait_for()
    assert page.locator("#problems li").count() == 0
    latest = httpx.get(f"{live.url}/api/v1/cameras/{pk}/zones/latest").json()
    (zone,) = latest["document"]["zones"]
    assert (zone["id"], zone["name"], zone["kind"]) == ("pavement", "南侧人行道", "no_vending")
    assert zone["polygon"][0] == pytest.approx([0.1, 0.5], abs=0.01)
    assert latest["comment"] == "first zone"
    assert latest["reference_sha256"] is not None  # drawn on the snapshot shown

    # Someone else saves meanwhile: this page's next save is a conflict, nothing is lost.
    other = httpx.post(
        f"{live.url}/api/v1/cameras/{pk}/zones",
        json={"document": {"zones": []}, "base_version": 2, "comment": "other operator"},
    )
    assert other.status_code == 201
    page.fill("#zone-fields input[name=dwell_s]", "90")
    page.locator("#zone-fields input[name=dwell_s]").dispatch_event("change")
    page.click("#save")
    page.locator("#message.error").wait_for()
    expected = ZH["cameras.editor.conflict"].replace("{v}", "3")
    assert page.locator("#message").inner_text() == expected
    assert httpx.get(f"{live.url}/api/v1/cameras/{pk}/zones/latest").json()["version"] == 3

    # The diff of version 2 is shown on the page.
    page.locator("#versions li", has_text="v2").locator("button").first.click()
    page.locator("#diff", has_text="pavement").wait_for()
    assert errors == [
        "Failed to load resource: the server responded with a status of 409 (Conflict)"
    ]


def test_camera_list_shows_the_alarm_in_red(live: LiveServer, browser: Any) -> None:
    pk = _camera_with_snapshot(live)
    with live.state.session_factory() as session, session.begin():
        limits = AlarmThresholds(dark_after_s=1.0, view_similarity_min=0.5)
        assert check_alarms(session, now=utcnow() + timedelta(seconds=5), limits=limits) == 1
    page = browser.new_page()
    errors = _watch(page, live)
    page.goto(f"{live.url}/cameras")
    row = page.locator(f"#cameras tr[data-camera='{pk}']")
    row.wait_for()
    assert "alarm" in (row.get_attribute("class") or "")
    assert ZH["cameras.alarm.dark"] in row.locator(".alarms").inner_text()
    assert "s3cret" not in page.content()
    health = httpx.get(f"{live.url}/api/v1/cameras/health").json()
    assert health == {"items": [{"camera": pk, "items": []}]}
    assert errors == []


def test_a_camera_is_added_from_the_list_page(live: LiveServer, browser: Any) -> None:
    page = browser.new_page()
    errors = _watch(page, live)
    page.goto(f"{live.url}/cameras")
    page.locator("#empty").wait_for()
    form = page.locator("#add-camera")
    form.locator("input[name=edge_id]").fill("edge-9")
    form.locator("input[name=camera_id]").fill("cam-9")
    form.locator("input[name=name]").fill("外滩 9号")
    form.locator("select[name=unit_id]").select_option(OTHER_STREET)
    form.locator("input[name=stream_url]").fill("rtsp://op:hunter2-pw@10.1.1.9/live")
    form.locator("button[type=submit]").click()
    row = page.locator("#cameras tr[data-camera]")
    row.wait_for()
    assert "cam-9" in row.inner_text()
    assert "hunter2" not in page.content()
    (camera,) = httpx.get(f"{live.url}/api/v1/cameras").json()["items"]
    assert (camera["unit_id"], camera["stream_url"]) == (OTHER_STREET, "rtsp://***@10.1.1.9/live")
    assert errors == []
