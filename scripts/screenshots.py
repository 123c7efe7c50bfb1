"""Screenshots of the server's pages for the README (``make screenshots``), in Chinese.

Starts the real server (uvicorn, login on) on a free loopback port with a temporary SQLite
database and the demo's seeded city (``configs/units.yaml``), fills it with
:mod:`screenshot_seed` (accounts, the seeds' cameras, cases through the real ingest, some of
them walked through the lifecycle over the API), logs in with Debian's Chromium and writes
small PNGs:

* ``login.png``: the login page;
* ``review.png``: the queue of candidate cases, each with its chain badge;
* ``review-quarantine.png``: the quarantine, an event that waits for its chain record;
* ``case.png``: a case page (evidence, timeline, disposal photo);
* ``stats.png``: the statistics page;
* ``map.png``: the map (摊一张图) with unit outlines, cameras, cases and hotspots;
* ``cameras.png``: the camera registry and health, as the operator sees it
  (:mod:`screenshot_cameras` seeds it): sparklines, the apply state, an alarm row;
* ``zones.png``: the zone editor, the zones drawn on a camera's snapshot and a new
  self-intersecting outline with the validator's message beside it;
* ``webhooks.png``: the webhooks page (admins): two receivers and the dead letters of the
  one that refuses (:mod:`screenshot_webhooks`).

Usage: ``python scripts/screenshots.py [--out docs]``.
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a file: the tests' helpers live beside the packages
    sys.path.insert(0, str(ROOT))

from screenshot_cameras import (  # noqa: E402  (beside this file)
    ADMIN,
    OPERATOR,
    Registered,
    create_operators,
    register_cameras,
    seed_camera_tools,
)
from screenshot_seed import (  # noqa: E402  (beside this file)
    PASSWORD,
    SEEDS,
    USERNAME,
    create_accounts,
    seed_cases,
    walk_lifecycle,
)
from screenshot_webhooks import (  # noqa: E402  (beside this file)
    WEBHOOK_SETTINGS,
    subscribe,
    wait_for_deliveries,
)

from server.core.config import load_settings  # noqa: E402
from tests.server.test_review_page import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.server.webhooks.receiver import receiver  # noqa: E402
from tests.support.live_server import LiveServer  # noqa: E402

logger = logging.getLogger("screenshots")

UNITS_FILE = ROOT / "configs" / "units.yaml"

VIEWPORT = {"width": 1280, "height": 800}
MAX_PNG_BYTES = 160_000
"""Above this a screenshot is saved again with 128 colours (the repository keeps them small)."""
PAGES = (
    "login.png",
    "review.png",
    "review-quarantine.png",
    "case.png",
    "stats.png",
    "map.png",
    "cameras.png",
    "zones.png",
    "webhooks.png",
)
BOW_TIE = ((0.05, 0.12), (0.36, 0.34), (0.36, 0.12), (0.05, 0.34))
"""A self-intersecting outline the operator draws on the editor (the validator says so)."""


def save_png(png: bytes, path: Path) -> None:
    """Write ``png`` at most 1280 px wide, palette-quantised and optimised."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as shot:
        image = shot.convert("RGB")
    if image.width > VIEWPORT["width"]:
        height = round(image.height * VIEWPORT["width"] / image.width)
        image = image.resize((VIEWPORT["width"], height), Image.Resampling.LANCZOS)
    for colours in (256, 128, 64):  # fewer colours when a photo-heavy page would be large
        quantised = image.quantize(
            colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
        quantised.save(path, format="PNG", optimize=True)
        if path.stat().st_size <= MAX_PNG_BYTES:
            break
    logger.info("wrote %s (%dx%d, %d bytes)", path, image.width, image.height, path.stat().st_size)


def _settle(page: Any) -> None:
    """Wait for fonts and every image of the page (those with a source)."""
    page.evaluate("() => document.fonts.ready")
    page.wait_for_function(
        "() => [...document.images].filter((image) => image.getAttribute('src'))"
        ".every((image) => image.complete && image.naturalWidth)"
    )


def _login(browser: Any, url: str, username: str) -> Any:
    """A new page of its own browser context, logged in as ``username``."""
    page = browser.new_context(viewport=VIEWPORT, locale="zh-CN").new_page()
    page.goto(f"{url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")
    return page


def camera_screenshots(browser: Any, url: str, out: Path, cameras: list[Registered]) -> list[str]:
    """The operator's camera list and zone editor; returns the pages' errors."""
    page = _login(browser, url, OPERATOR)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{url}/cameras")
    page.locator("#cameras tr.alarm").wait_for(timeout=15_000)
    page.locator("#cameras tr[data-camera]").nth(len(cameras) - 1).wait_for(timeout=15_000)
    page.locator("#cameras svg.spark polyline").nth(len(cameras) - 1).wait_for(timeout=15_000)
    _settle(page)
    save_png(page.screenshot(), out / "cameras.png")
    page.goto(f"{url}/cameras/{cameras[0].pk}/zones")
    page.wait_for_function("() => document.getElementById('snapshot').naturalWidth > 0")
    page.locator("#version", has_text="2").wait_for(timeout=15_000)
    page.locator("#canvas g.zone").first.wait_for(timeout=15_000)
    page.click("#add-zone")
    box = page.locator("#canvas").bounding_box()
    for x, y in BOW_TIE:
        page.mouse.click(box["x"] + x * box["width"], box["y"] + y * box["height"])
    page.keyboard.press("Enter")
    page.click("#validate")
    page.locator("#canvas text.problem-label").first.wait_for(timeout=15_000)
    _settle(page)
    save_png(page.screenshot(), out / "zones.png")
    page.context.close()
    page = _login(browser, url, ADMIN)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{url}/webhooks")
    page.locator("#subscriptions tbody tr").nth(1).wait_for(timeout=15_000)
    page.locator("#deliveries tbody tr").first.wait_for(timeout=15_000)
    _settle(page)
    save_png(page.screenshot(), out / "webhooks.png")
    page.context.close()
    return errors


def take_screenshots(url: str, out: Path, case_id: int, cameras: list[Registered]) -> None:
    """Log in with Chromium and save the pages."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.is_file():
        raise RuntimeError(f"{CHROMIUM} is missing (Debian package 'chromium')")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT, locale="zh-CN")  # type: ignore[arg-type]
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{url}/")
            page.wait_for_url(f"{url}/login")
            page.fill("input[name=username]", USERNAME)
            save_png(page.screenshot(), out / "login.png")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{url}/")
            cards = page.locator("article.case")
            cards.nth(len(SEEDS) - 2).wait_for(timeout=15_000)
            page.locator("#quarantine-list li").first.wait_for(timeout=15_000)
            for index in range(cards.count()):
                cards.nth(index).locator("img").first.wait_for(timeout=15_000)
            _settle(page)
            save_png(page.screenshot(), out / "review.png")
            page.locator("#quarantine").scroll_into_view_if_needed()
            save_png(page.screenshot(), out / "review-quarantine.png")
            page.goto(f"{url}/cases/{case_id}")
            page.locator("#case[data-ready='true']").wait_for(timeout=15_000)
            page.locator("#disposals img").first.wait_for(timeout=15_000)
            _settle(page)
            save_png(page.screenshot(), out / "case.png")
            page.goto(f"{url}/stats")
            page.locator("#stats[data-ready='true']").wait_for(timeout=15_000)
            save_png(page.screenshot(), out / "stats.png")
            page.goto(f"{url}/map")
            page.locator("#map[data-ready='true']").wait_for(timeout=15_000)
            save_png(page.screenshot(), out / "map.png")
            errors += camera_screenshots(browser, url, out, cameras)
            if errors:
                raise RuntimeError(f"the pages raised: {errors}")
        finally:
            browser.close()


def run(out: Path) -> list[Path]:
    """Start the server, seed it, walk cases, take the screenshots; return the files written."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="civicwatch-screens-") as tmp:
        settings = load_settings(
            None,
            database_url=f"sqlite:///{Path(tmp) / 'cases.db'}",
            evidence_dir=Path(tmp) / "evidence",
            dead_letter_dir=Path(tmp) / "dead-letter",
            mqtt_enabled=False,
            auth_enabled=True,
            units_file=UNITS_FILE,
            cameras={"alarm_interval_s": 0},  # the seeding judges the cameras' health itself
            webhooks=WEBHOOK_SETTINGS,
        )
        with (
            receiver(default=204) as hotline,
            receiver(default=503) as legacy,
            LiveServer(settings) as live,
        ):
            started = time.monotonic()
            create_accounts(live)
            create_operators(live)
            subscribe(live.url, hotline.url, legacy.url)
            cameras = register_cameras(live.url)
            earlier = seed_cases(live, settings)
            logger.info(
                "seeded %d cases in %.1f s", len(earlier) + len(SEEDS), time.monotonic() - started
            )
            closed = walk_lifecycle(live.url, earlier)
            seed_camera_tools(live, settings, cameras)
            wait_for_deliveries(live.url)
            take_screenshots(live.url, out, closed, cameras)
    return [out / name for name in PAGES]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="folder for the PNGs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for path in run(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
