"""The command center walked in real headless Chromium against a real server with the
seeded city: a candidate case from the real ingest goes candidate → confirmed →
dispatched → disposed (a real JPEG uploaded) → verified → closed, by three users at three
levels (街镇 reviewer, 区 dispatcher, the 街镇's field team); a user of another 街镇
cannot open it (page and API); statistics and the map draw the seeded data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.tables import UserRole
from tests.server import builders as b
from tests.server.pages.support import (
    Account,
    Visitor,
    add_accounts,
    browser,
    city_settings,
    ingest_case,
)
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.integration

__all__ = ["browser"]  # the fixture, imported for its side of pytest

STREET = "sh-huangpu-nanjingdong"
OTHER_STREET = "sh-huangpu-waitan"
DISTRICT = "sh-huangpu"
TEAM = "sh-huangpu-nanjingdong-team1"
ACCOUNTS = [
    Account("street.rev", UserRole.REVIEWER, STREET),
    Account("district.disp", UserRole.DISPATCHER, DISTRICT),
    Account("team.one", UserRole.TEAM, TEAM),
    Account("bund.rev", UserRole.REVIEWER, OTHER_STREET),
]


@pytest.fixture
def city(tmp_path: Path) -> Iterator[LiveServer]:
    with LiveServer(city_settings(tmp_path)) as server:
        add_accounts(server, ACCOUNTS)
        ingest_case(server, 1, edge_id="demo-edge", camera_id="demo-cam")
        yield server


def test_a_case_walks_from_candidate_to_closed(
    city: LiveServer, browser: Any, tmp_path: Path
) -> None:
    visitors: list[Visitor] = []

    def visit(username: str) -> Visitor:
        visitor = Visitor(browser, city, username)
        visitors.append(visitor)
        return visitor

    # 街镇 reviewer: the queue in Chinese, keyboard review (j selects, c confirms)
    reviewer = visit("street.rev")
    page = reviewer.page
    card = page.locator("article.case[data-case-id='1']")
    card.wait_for(timeout=20_000)
    assert page.locator("header.top nav").inner_text().split() == ["队列", "统计", "地图", "摄像头"]
    assert "南京东路街道" in page.locator("#who").inner_text()
    assert "南京东路街道" in card.inner_text()
    page.on("dialog", lambda dialog: dialog.accept("在实时画面中核实"))  # chain override reason
    page.keyboard.press("j")
    assert "selected" in (card.get_attribute("class") or "")
    page.keyboard.press("c")
    card.wait_for(state="detached", timeout=30_000)  # confirmed cases leave the candidates

    # another 街镇's reviewer: neither the page nor the API shows the case
    outsider = visit("bund.rev")
    outsider.page.locator("#empty").wait_for(state="visible", timeout=20_000)
    outsider.page.click("a[data-locale='en']")  # the language switch, kept in a cookie
    outsider.page.locator("header.top nav a[data-nav='queue']").wait_for()
    assert outsider.page.locator("header.top nav").inner_text().split()[:2] == [
        "Queue",
        "Statistics",
    ]
    assert "The Bund Subdistrict" in outsider.page.locator("#who").inner_text()
    missing = outsider.page.goto(f"{city.url}/cases/1")
    assert missing is not None and missing.status == 404
    assert outsider.page.locator("#not-found").is_visible()
    api = outsider.page.request.get(f"{city.url}/api/v1/cases/1")
    assert api.status == 404

    # 区 dispatcher: dispatch to the 街镇's team
    dispatcher = visit("district.disp")
    dispatcher.page.select_option("#status-filter", "confirmed")
    dispatcher.page.locator("article.case[data-case-id='1']").wait_for(timeout=20_000)
    csv = dispatcher.page.locator("#csv-link").get_attribute("href") or ""
    assert csv.startswith("/api/v1/cases.csv?") and "status=confirmed" in csv
    export = dispatcher.page.request.get(f"{city.url}{csv}")
    assert export.status == 200 and "demo-cam" in export.text()
    dispatcher.page.keyboard.press("j")
    dispatcher.page.keyboard.press("Enter")  # opens the selected case
    dispatcher.page.wait_for_url(f"{city.url}/cases/1")
    case_page = dispatcher.page
    case_page.locator("#case[data-ready='true']").wait_for(timeout=20_000)
    assert case_page.locator("#case").get_attribute("data-status") == "confirmed"
    assert dispatcher.act("dispatch", {"textarea[name=note]": "请两小时内处置"}) == "dispatched"
    assert TEAM in (case_page.locator("#facts").inner_text() + TEAM)  # the team is named
    assert "南京东路城管中队" in case_page.locator("#facts").inner_text()

    # the team: look at the evidence large (click, arrows, Esc), upload a real JPEG and a note
    team = visit("team.one")
    team_page = team.open_case(1)
    team_page.locator("#gallery button.thumb").first.click()
    viewer = team_page.locator("#viewer")
    viewer.wait_for(state="visible")
    first = team_page.locator("#viewer-caption").inner_text()
    team_page.keyboard.press("ArrowRight")
    assert team_page.locator("#viewer-caption").inner_text() != first
    team_page.keyboard.press("+")
    assert "zoomed" in (team_page.locator("#viewer-img").get_attribute("class") or "")
    team_page.keyboard.press("Escape")
    viewer.wait_for(state="hidden")
    photo = tmp_path / "after.jpg"
    photo.write_bytes(b.jpeg(77, (640, 360)))
    team_page.locator("#actions button[data-action='dispose']").click()
    team_page.locator("#action-form input[type=file]").set_input_files(str(photo))
    team_page.locator("#action-form textarea[name=note]").fill("摊位已清理，现场恢复")
    team_page.locator("#action-form button[type=submit]").click()
    team_page.locator("#disposals img").first.wait_for(timeout=20_000)
    team_page.wait_for_function(
        "() => [...document.querySelectorAll('#disposals img')]"
        ".every((img) => img.complete && img.naturalWidth === 640)"
    )
    assert team_page.locator("#case").get_attribute("data-status") == "disposed"
    assert "摊位已清理" in team_page.locator("#disposals").inner_text()

    # the dispatcher verifies and closes
    dispatcher.open_case(1)
    assert dispatcher.act("verify") == "verified"
    assert dispatcher.act("close", {"textarea[name=note]": "结案"}) == "closed"
    final = dispatcher.page
    actions = [row.get_attribute("data-action") for row in final.locator("#timeline li").all()]
    assert actions == ["confirm", "dispatch", "dispose", "verify", "close"], actions
    final.locator("#file-chain [data-file-chain]").wait_for(timeout=20_000)
    assert final.locator("#file-chain [data-file-chain]").get_attribute("data-file-chain") == "ok"
    assert final.locator("#badges .status").get_attribute("data-status") == "closed"

    # statistics and the map draw the seeded data
    final.goto(f"{city.url}/stats")
    final.locator("#stats[data-ready='true']").wait_for(timeout=20_000)
    assert final.locator("[data-tile='stats.total'] .tile-value").inner_text() == "1"
    assert final.locator("[data-tile='stats.closed'] .tile-value").inner_text() == "1"
    assert final.locator("#by-type svg rect.bar").count() == 1
    assert "占道设摊" in final.locator("#by-type").inner_text()
    final.goto(f"{city.url}/map")
    final.locator("#map[data-ready='true']").wait_for(timeout=20_000)
    svg = final.locator("#map svg")
    assert svg.locator("path.unit").count() == 3  # the district and its two streets
    assert svg.locator("rect.camera").count() >= 2
    assert svg.locator("circle.case-dot").count() == 1
    assert svg.locator("circle.hotspot.street_stall").count() == 1
    assert "黄浦区" in final.locator("#unit-filter").inner_text()

    for visitor in visitors:
        assert visitor.errors == [], (visitor, visitor.errors)
        assert visitor.external == [], visitor.external
        visitor.close()


def test_send_back_reopen_and_escalate_from_the_case_page(
    city: LiveServer, browser: Any, tmp_path: Path
) -> None:
    reviewer = Visitor(browser, city, "street.rev")
    reviewer.open_case(1)
    reviewer.page.on("dialog", lambda dialog: dialog.accept("核实无误"))
    reviewer.page.locator("#actions button[data-action='confirm']").click()
    reviewer.page.locator("#case[data-status='confirmed']").wait_for(timeout=20_000)
    assert reviewer.act("escalate_unit", {"textarea[name=note]": "需区级协调"}) == "confirmed"
    # the district handles it now: above the street, out of the reviewer's tree, by its name
    facts = reviewer.page.locator("#facts")
    assert "承办单位\n黄浦区\n" in facts.inner_text()
    assert facts.locator(f"[data-unit-id='{DISTRICT}']").inner_text() == "黄浦区"
    assert (
        reviewer.page.locator("#timeline li[data-action='escalate'] q").inner_text() == "需区级协调"
    )

    dispatcher = Visitor(browser, city, "district.disp")
    dispatcher.open_case(1)
    assert dispatcher.act("dispatch") == "dispatched"
    team = Visitor(browser, city, "team.one")
    team.open_case(1)
    assigned = team.page.locator(f"#facts [data-unit-id='{DISTRICT}']")
    assert assigned.inner_text() == "黄浦区"  # above the team's tree too
    photo = tmp_path / "after.jpg"
    photo.write_bytes(b.jpeg(78, (320, 240)))
    team.page.locator("#actions button[data-action='dispose']").click()
    team.page.locator("#action-form input[type=file]").set_input_files(str(photo))
    team.page.locator("#action-form textarea[name=note]").fill("已处理")
    team.page.locator("#action-form button[type=submit]").click()
    team.page.locator("#case[data-status='disposed']").wait_for(timeout=20_000)

    dispatcher.open_case(1)
    assert dispatcher.act("send_back", {"textarea[name=note]": "照片看不清"}) == "dispatched"
    team.open_case(1)
    assert team.page.locator("#timeline li[data-action='send_back'] q").inner_text() == "照片看不清"

    # a bad upload is refused with the server's message, and nothing changes
    bad = tmp_path / "not-a-photo.jpg"
    bad.write_bytes(b"this is text, not a JPEG")
    team.page.locator("#actions button[data-action='dispose']").click()
    team.page.locator("#action-form input[type=file]").set_input_files(str(bad))
    team.page.locator("#action-form textarea[name=note]").fill("再试")
    team.page.locator("#action-form button[type=submit]").click()
    team.page.wait_for_function("() => document.querySelector('#message.error') !== null")
    assert "not-a-photo.jpg" in team.page.locator("#message").inner_text()
    assert team.page.locator("#case").get_attribute("data-status") == "dispatched"

    for visitor in (reviewer, dispatcher, team):
        assert visitor.errors == [], visitor.errors
        visitor.close()
