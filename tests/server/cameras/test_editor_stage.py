"""The zone editor's stage in real headless Chromium: the snapshot keeps its aspect, shapes map
exactly onto 0..1 of it (drawn and dragged with the mouse, then saved), and the labels drawn on
it keep their natural aspect and stay inside the image, a long validator message wrapped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts.topics import parse_edge_topic, snapshot_topic
from server.core.config import load_settings
from server.core.db import utcnow
from server.ingest import IngestContext
from server.ingest.handlers import IngestMessage
from server.ingest.handlers.snapshot import handle_snapshot
from tests.server.cameras.conftest import add_units, camera_body, jpeg, snapshot_message
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.integration

WIDTH, HEIGHT = 320, 240  # 4:3, where the stage's default is 16:9

GEOMETRY = """() => {
  const canvas = document.getElementById("canvas");
  const box = canvas.getBoundingClientRect();
  const m = canvas.getScreenCTM();
  const texts = [...canvas.querySelectorAll("text")].map((t) => {
    const r = t.getBoundingClientRect();
    return { cls: t.getAttribute("class"), left: r.left - box.left, right: r.right - box.left,
      top: r.top - box.top, bottom: r.bottom - box.top,
      lines: [...t.querySelectorAll("tspan")].map((s) => s.textContent),
      title: t.parentNode.querySelector("title").textContent };
  });
  return { width: box.width, height: box.height, scale: [m.a, m.b, m.c, m.d], texts };
}"""


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
    message = snapshot_message(jpeg(wh=(WIDTH, HEIGHT)), at=utcnow()).model_copy(
        update={"width": WIDTH, "height": HEIGHT}
    )
    topic = snapshot_topic(message.edge_id, message.camera_id)
    with live.state.session_factory() as session, session.begin():
        handle_snapshot(
            session,
            IngestMessage(topic=topic, address=parse_edge_topic(topic), payload=message.to_json()),
            context=IngestContext(store=live.state.store),
            now=utcnow(),
        )
    pk: int = created.json()["id"]
    return pk


def _at(page: Any, x: float, y: float) -> tuple[float, float]:
    box = page.locator("#canvas").bounding_box()
    return box["x"] + x * box["width"], box["y"] + y * box["height"]


def _draw(page: Any, points: list[tuple[float, float]]) -> None:
    page.click("#add-zone")
    for x, y in points:
        page.mouse.click(*_at(page, x, y))
    page.keyboard.press("Enter")


def test_shapes_map_onto_the_snapshot_and_labels_stay_inside(
    live: LiveServer, browser: Any
) -> None:
    pk = _camera_with_snapshot(live)
    page = browser.new_page(viewport={"width": 700, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live.url}/cameras/{pk}/zones")
    page.wait_for_function("() => document.getElementById('snapshot').naturalWidth > 0")
    page.locator("#version", has_text="版本 1").wait_for()
    page.wait_for_function(
        "() => { const b = document.getElementById('canvas').getBoundingClientRect();"
        f" return Math.abs(b.width / b.height - {WIDTH / HEIGHT}) < 0.01; }}"
    )
    geometry = page.evaluate(GEOMETRY)
    assert geometry["scale"] == [1, 0, 0, 1]  # user units are CSS pixels: nothing stretched
    image = page.locator("#snapshot").bounding_box()
    assert (image["width"], image["height"]) == pytest.approx(
        (geometry["width"], geometry["height"]), abs=0.5
    )

    # Drawn, one corner dragged (the press lands on its handle), saved: exact 0..1 coordinates.
    _draw(page, [(0.6, 0.3), (0.9, 0.3), (0.9, 0.6), (0.6, 0.6)])
    page.mouse.move(*_at(page, 0.6, 0.3))
    page.mouse.down()
    page.mouse.move(*_at(page, 0.5, 0.2), steps=5)
    page.mouse.up()
    page.fill("#zone-fields input[name=id]", "pavement")
    page.locator("#zone-fields input[name=id]").dispatch_event("change")
    page.click("#save")
    page.locator("#version", has_text="版本 2").wait_for()
    (zone,) = httpx.get(f"{live.url}/api/v1/cameras/{pk}/zones/latest").json()["document"]["zones"]
    corners = [c for corner in zone["polygon"] for c in corner]
    assert corners == pytest.approx([0.5, 0.2, 0.9, 0.3, 0.9, 0.6, 0.6, 0.6], abs=0.005)

    # A bow tie near the right edge: its message is longer than the image is wide.
    _draw(page, [(0.85, 0.3), (0.95, 0.6), (0.95, 0.3), (0.85, 0.6)])
    page.click("#validate")
    page.locator("#canvas text.problem-label").first.wait_for()
    message = page.locator("#problems li").first.inner_text()
    assert "self-intersecting" in message
    assert page.locator("#problems li").first.get_attribute("title") == message
    geometry = page.evaluate(GEOMETRY)
    for text in geometry["texts"]:
        assert text["left"] >= 0 and text["right"] <= geometry["width"], text
        assert text["top"] >= 0 and text["bottom"] <= geometry["height"], text
    (problem,) = [t for t in geometry["texts"] if t["cls"] == "problem-label"]
    assert problem["title"] == message
    assert len(problem["lines"]) >= 2  # wrapped, not cut at the image's edge
    shown = " ".join(problem["lines"])
    assert shown.rstrip("…") in message
    assert sorted(t["title"] for t in geometry["texts"] if t["cls"] == "zone-label") == [
        "pavement",
        "zone-2",
    ]
    assert errors == []
