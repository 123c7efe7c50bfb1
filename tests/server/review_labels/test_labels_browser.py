"""Review labels in real headless Chromium against a real server: a reviewer fixes the
detected box by dragging it, draws a missed object, rejects the case as wrong_object on the
right box with the keyboard, and the API shows all three (issue 18)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contracts.events import EvidenceKind
from server.ingest import IngestContext, dispatch
from server.tables import UserRole
from tests.server import builders as b
from tests.server.conftest import NOW
from tests.server.pages.support import Account, Visitor, add_accounts, browser, city_settings
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.integration

__all__ = ["browser"]

STREET = "sh-huangpu-nanjingdong"
BOX = {"x1": 0.1, "y1": 0.2, "x2": 0.3, "y2": 0.5}


def ingest_frame_case(live: LiveServer) -> None:
    """A candidate case whose start carries a clean 640x360 frame, through the ingest."""
    state = live.state
    context = IngestContext(store=state.store, limits=b.UNCHAINED)
    frame = b.item(b.jpeg(901, (640, 360)), EvidenceKind.FRAME)
    ev = b.event(
        event_id=f"{0xB001:032x}",
        evidence=[frame.ref],
        edge_id="demo-edge",
        camera_id="demo-cam",
        box=BOX,
    )
    for topic, payload, kind in (
        (b.evidence_topic(frame, "demo-edge"), frame.data, "image/jpeg"),
        (b.event_topic(ev), ev.to_json(), "application/json"),
    ):
        outcome = dispatch(
            state.session_factory,
            topic,
            payload,
            b.props(kind),
            context=context,
            metrics=state.metrics,
            now=NOW,
        )
        assert outcome.accepted, outcome


@pytest.fixture
def city(tmp_path: Path) -> Iterator[LiveServer]:
    with LiveServer(city_settings(tmp_path)) as server:
        add_accounts(server, [Account("street.rev", UserRole.REVIEWER, STREET)])
        ingest_frame_case(server)
        yield server


def test_reviewer_fixes_adds_and_rejects_wrong_object(city: LiveServer, browser: Any) -> None:
    reviewer = Visitor(browser, city, "street.rev")
    try:
        page = reviewer.open_case(1)
        widget = page.locator("#review-labels[data-ready='true']")
        widget.wait_for(timeout=20_000)
        assert "训练标注" in widget.inner_text()
        svg = page.locator("#rl-stage svg")
        svg.locator("rect[data-box-id='detected']").wait_for(timeout=20_000)
        page.wait_for_function(
            "() => { const i = document.querySelector('#rl-stage img');"
            " return i && i.complete && i.naturalWidth > 0; }",
            timeout=20_000,
        )
        page.locator("#rl-stage").scroll_into_view_if_needed()
        area = svg.bounding_box()
        assert area is not None

        def at(x: float, y: float) -> tuple[float, float]:
            return area["x"] + x * area["width"], area["y"] + y * area["height"]

        # fix: drag the detected box right by 0.1 of the width
        page.mouse.move(*at(0.2, 0.35))
        page.mouse.down()
        page.mouse.move(*at(0.25, 0.35), steps=4)
        page.mouse.move(*at(0.3, 0.35), steps=4)
        page.mouse.up()
        # add: b, then draw a goods box
        page.select_option("#rl-class", "goods")
        widget.focus()
        page.keyboard.press("b")
        page.mouse.move(*at(0.6, 0.6))
        page.mouse.down()
        page.mouse.move(*at(0.7, 0.7), steps=4)
        page.mouse.move(*at(0.8, 0.9), steps=4)
        page.mouse.up()
        # reject as wrong_object on the detected box: select it (n cycles), w, Enter
        page.select_option("#rl-really", "background")
        widget.focus()
        while (
            page.locator("#rl-boxes li[data-selected='true']").get_attribute("data-box-id")
            != "detected"
        ):
            page.keyboard.press("n")
        page.keyboard.press("w")
        assert (
            page.locator("#rl-reasons button[data-reason='wrong_object']").get_attribute(
                "aria-checked"
            )
            == "true"
        )
        page.keyboard.press("Enter")
        try:
            page.locator("#rl-history li").nth(2).wait_for(timeout=20_000)
        except Exception as exc:
            status = page.locator("#rl-status").inner_text()
            labels = page.request.get(f"{city.url}/api/v1/cases/1/labels").json()
            raise AssertionError(f"not saved: {status!r} {reviewer.errors} {labels}") from exc
        assert page.locator("#rl-status").inner_text() == "已保存。"

        labels = page.request.get(f"{city.url}/api/v1/cases/1/labels").json()
        boxes = {box["box_id"]: box for box in labels["boxes"]}
        detected = boxes.pop("detected")
        assert detected["fixed"] and detected["wrong"] and detected["label"] is None
        assert detected["box"]["x1"] == pytest.approx(0.2, abs=0.02)
        assert detected["box"]["x2"] == pytest.approx(0.4, abs=0.02)
        assert detected["box"]["y1"] == pytest.approx(0.2, abs=0.02)
        ((added_id, added),) = boxes.items()
        assert added_id.startswith("added-") and added["class_name"] == "goods"
        assert added["box"]["x1"] == pytest.approx(0.6, abs=0.02)
        assert added["box"]["y2"] == pytest.approx(0.9, abs=0.02)
        assert labels["reason"]["code"] == "wrong_object"
        assert labels["reason"]["box_id"] == "detected"
        assert labels["reason"]["really_is"] == "background"
        assert labels["reason"]["reviewer"] == "street.rev"
        assert [e["action"] for e in labels["edits"]] == ["fix", "add", "wrong"]
        case = page.request.get(f"{city.url}/api/v1/cases/1").json()
        assert case["status"] == "rejected"
        assert reviewer.errors == [] and reviewer.external == []
    finally:
        reviewer.close()
