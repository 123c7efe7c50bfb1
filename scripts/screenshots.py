"""Screenshots of the server's pages for the README (``make screenshots``), in Chinese.

Starts the real server (uvicorn, login on) on a free loopback port with a temporary SQLite
database and the demo's seeded city (``configs/units.yaml``), registers the seeds' cameras
in its streets, creates accounts through :func:`server.auth.create_user` (what ``civicwatch
users add`` runs), seeds cases through the ingest's own :func:`server.ingest.dispatch`
(what the MQTT client calls for every message) with evidence the edge makes
(:func:`edge.evidence.snapshot_set`) from street scenes the project renders
(:mod:`training.scenes`), walks some of them through the lifecycle over the API (confirm,
dispatch, a disposal photo, verify, close), logs in with Debian's Chromium and writes small
PNGs:

* ``login.png``: the login page;
* ``review.png``: the queue of candidate cases, each with its chain badge;
* ``review-quarantine.png``: the quarantine, an event that waits for its chain record;
* ``case.png``: a case page (evidence, timeline, disposal photo);
* ``stats.png``: the statistics page;
* ``map.png``: the map (摊一张图) with unit outlines, cameras, cases and hotspots.

The seeded set: a street stall, a cross-door case naming its shop and a muck truck with its
plate, each with a verified chain record of its edge, earlier cases of the same cameras over
the past days, and one event without a chain record.

Usage: ``python scripts/screenshots.py [--out docs]``.
"""

from __future__ import annotations

import argparse
import base64
import io
import logging
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a file: the tests' helpers live beside the packages
    sys.path.insert(0, str(ROOT))

from contracts import topics  # noqa: E402
from contracts.events import ZoneEvent  # noqa: E402
from edge.evidence import Annotation, EvidenceConfig, EvidenceItem, snapshot_set  # noqa: E402
from edge.types import FloatArray, ImageArray  # noqa: E402
from server import auth, chain_store  # noqa: E402
from server.core.config import Settings, load_settings  # noqa: E402
from server.core.db import utcnow  # noqa: E402
from server.ingest import IngestContext, IngestLimits, dispatch  # noqa: E402
from server.org.tables import Camera  # noqa: E402
from server.tables import UserRole  # noqa: E402
from tests.contracts.chain_builders import Signer, WireMessage  # noqa: E402
from tests.server.builders import props  # noqa: E402
from tests.server.test_review_page import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.support.live_server import LiveServer  # noqa: E402
from training.scenes.render import Light  # noqa: E402
from training.scenes.scenery import Shop  # noqa: E402
from training.scenes.stages import (  # noqa: E402
    GoodsStep,
    TruckPass,
    goods_stage,
    stall_stage,
    trucks_stage,
)
from training.scenes.staging import Film, Stage  # noqa: E402

logger = logging.getLogger("screenshots")

USERNAME = "shen.reviewer"
PASSWORD = "Qiao-Bridge-Night-47"  # throw-away accounts in a throw-away database
ACCOUNTS = (
    (USERNAME, UserRole.REVIEWER, "sh"),
    ("lu.dispatcher", UserRole.DISPATCHER, "sh"),
    ("nanjingdong.team", UserRole.TEAM, "sh-huangpu-nanjingdong-team1"),
)
"""User name, role and unit: a city-level reviewer (the screenshots), a dispatcher, a team."""
UNITS_FILE = ROOT / "configs" / "units.yaml"
CAMERAS = {
    ("edge-huangpu-01", "cam-nanjing-rd-03"):
        ("sh-huangpu-nanjingdong", "南京东路河南中路口", 31.2385, 121.4800),
    ("edge-huangpu-01", "cam-fuzhou-rd-07"):
        ("sh-huangpu-waitan", "福州路江西中路口", 31.2340, 121.4930),
    ("edge-jingan-02", "cam-gonghe-rd-12"):
        ("sh-jingan-jingansi", "华山路常德路口", 31.2290, 121.4500),
}  # fmt: skip
"""The seeds' cameras in the seeded city's streets: unit, name, lat, lon."""
HISTORY_DAYS = 6
"""Earlier cases of the chained seeds, one per seed and day, walked through the lifecycle."""
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
)
MODEL = {
    "name": "civicwatch-street",
    "version": "5",
    "sha256": "9e0290332a2f4fb84b762c4e676f8766b23f564bc7a00b8f29889caf1218cf3e",
}
FRAME_WH = (960, 540)


@dataclass(frozen=True)
class Scene:
    """One rendered frame with the object the case is about."""

    image: ImageArray
    box_xyxy: tuple[float, float, float, float]


@dataclass(frozen=True)
class Seed:
    """One case to seed: what the edge saw and what its event says."""

    edge_id: str
    camera_id: str
    zone_id: str
    zone_label: str
    violation: str
    label: str
    confidence: float
    dwell_s: float
    scene: Callable[[], Scene]
    details: dict[str, str | float | int]
    chained: bool = True


def _frame(stage: Stage, rng: np.random.Generator, t: float, class_name: str) -> Scene:
    """The stage at ``t`` s and the largest visible box of ``class_name``."""
    film = Film(stage, rng, noise_frames=1)
    canvas = film.scene(t)
    image = film.photo(canvas, 0, stage.caption)
    boxes = [box for box in canvas.labels() if box.name == class_name]
    if not boxes:
        raise RuntimeError(f"the rendered scene at {t} s shows no {class_name}")
    best = max(boxes, key=lambda box: (box.xyxy[2] - box.xyxy[0]) * (box.xyxy[3] - box.xyxy[1]))
    return Scene(image=image, box_xyxy=best.xyxy)


def stall_scene() -> Scene:
    rng = np.random.default_rng(11)
    staged = stall_stage(rng, *FRAME_WH, 30.0, Light.DAY)
    return _frame(staged.stage, rng, staged.t_setup + 8.0, "stall")


def _goods_out(shop: Shop, side: float) -> tuple[GoodsStep, ...]:
    """Two racks of goods well past the door line."""
    return (
        GoodsStep(0.1, shop.door_x + side * (shop.door_w / 2 + 0.6), 1.2, 0),
        GoodsStep(0.2, shop.door_x - side * 0.3, 2.4, 2),
    )


def goods_scene() -> Scene:
    rng = np.random.default_rng(5)
    staged = goods_stage(rng, *FRAME_WH, 30.0, Light.DAY, _goods_out)
    return _frame(staged.stage, rng, 20.0, "goods")


def truck_scene() -> Scene:
    rng = np.random.default_rng(8)
    trucks = (TruckPass("truck-open", covered=False), TruckPass("truck-late", covered=True))
    staged = trucks_stage(rng, *FRAME_WH, 30.0, Light.DAY, trucks, max_speed_ms=6.0)
    enter, leave = staged.windows[0]
    return _frame(staged.stage, rng, enter + 0.45 * (leave - enter), "truck")


SEEDS: tuple[Seed, ...] = (
    Seed(
        "edge-huangpu-01", "cam-nanjing-rd-03", "pavement-north", "no_vending 人行道北侧",
        "street_stall", "stall", 0.91, 642.0, stall_scene,
        {"objects": 2, "legal_hours": "none"},
    ),
    Seed(
        "edge-huangpu-01", "cam-fuzhou-rd-07", "frontage-fuzhou-112", "shop_frontage 福州路112号",
        "cross_door", "goods", 0.84, 1260.0, goods_scene,
        {"shop_id": "fuzhou-112", "shop_name": "福记杂货 Fuji Grocery", "objects": 5,
         "labels": "goods:5"},
    ),
    Seed(
        "edge-jingan-02", "cam-gonghe-rd-12", "road-gonghe-south", "road 共和新路南向",
        "muck_truck", "truck", 0.88, 6.4, truck_scene,
        {"load": "uncovered", "uncovered_votes": 4, "votes": 5, "plate": "沪D·73K52",
         "plate_colour": "yellow", "plate_confidence": 0.93, "plate_frames": 4,
         "plate_status": "read"},
    ),
    Seed(
        "edge-unknown-9", "cam-9", "pavement-east", "no_vending",
        "street_stall", "stall", 0.77, 95.0, stall_scene,
        {"objects": 1}, chained=False,
    ),
)  # fmt: skip


def _event(
    seed: Seed, box: tuple[float, ...], items: Sequence[EvidenceItem], last_seen: datetime, n: int
) -> ZoneEvent:
    w, h = FRAME_WH
    return ZoneEvent.model_validate(
        {
            "event_id": f"{0x5C0 + n:032x}",
            "phase": "start",
            "edge_id": seed.edge_id,
            "camera_id": seed.camera_id,
            "zone_id": seed.zone_id,
            "rule": seed.violation,
            "violation_type": seed.violation,
            "label": seed.label,
            "confidence": seed.confidence,
            "box": {"x1": box[0] / w, "y1": box[1] / h, "x2": box[2] / w, "y2": box[3] / h},
            "first_seen": last_seen - timedelta(seconds=seed.dwell_s),
            "last_seen": last_seen,
            "dwell_s": seed.dwell_s,
            "model": MODEL,
            "evidence": [item.ref() for item in items],
            "details": seed.details,
            "sent_at": last_seen + timedelta(milliseconds=80),
        }
    )


def _zone_around(box: tuple[float, ...]) -> FloatArray:
    """A four-sided zone (pixels) reaching well beyond the object's box."""
    x1, y1, x2, y2 = box
    w, h = FRAME_WH
    dx, dy = (x2 - x1) * 0.8 + 40, (y2 - y1) * 0.5 + 20
    return np.array(
        [
            [max(x1 - dx * 1.4, 0), min(y2 + dy, h - 1)],
            [min(x2 + dx * 1.4, w - 1), min(y2 + dy, h - 1)],
            [min(x2 + dx * 0.6, w - 1), max(y1 - dy * 0.2, 0)],
            [max(x1 - dx * 0.6, 0), max(y1 - dy * 0.2, 0)],
        ],
        dtype=np.float32,
    )


_SCENES: dict[str, Scene] = {}


def _scene(seed: Seed) -> Scene:
    """The seed's rendered scene (rendered once; earlier cases reuse it)."""
    key = f"{seed.edge_id}/{seed.camera_id}/{seed.chained}"
    if key not in _SCENES:
        _SCENES[key] = seed.scene()
    return _SCENES[key]


def _messages(
    seed: Seed, signer: Signer | None, now: datetime, n: int, *, days_ago: int = 0
) -> list[WireMessage]:
    """Evidence, event and (for a chained seed) the signed chain record, in the edge's order."""
    scene = _scene(seed)
    captured = now - timedelta(days=days_ago, minutes=12 - 3 * (n % 4) + 37 * days_ago)
    annotation = Annotation(
        zone_polygon_px=_zone_around(scene.box_xyxy),
        zone_label=seed.zone_label.split(" ")[0] + f" {seed.zone_id}",
        box_xyxy=np.array(scene.box_xyxy, dtype=np.float32),
        box_label=f"{seed.label} {seed.confidence:.2f}",
    )
    items = snapshot_set(scene.image, annotation, captured, EvidenceConfig(jpeg_quality=85))
    event = _event(seed, scene.box_xyxy, items, captured, n)
    messages = [
        WireMessage(topics.evidence_topic(seed.edge_id, item.sha256), item.data, "image/jpeg")
        for item in items
    ]
    messages.append(
        WireMessage(
            topics.event_topic(seed.edge_id, seed.camera_id), event.to_json(), "application/json"
        )
    )
    if signer is not None:
        signed = signer.record(event, recorded_at=captured + timedelta(milliseconds=40))
        messages.append(
            WireMessage(
                topics.chain_topic(seed.edge_id, signed.record.seq),
                signed.to_json(),
                "application/json",
            )
        )
    return messages


def seed_cases(live: LiveServer, settings: Settings) -> list[int]:
    """Register the edges' keys, then ingest every seed's messages as the MQTT client would,
    earlier days first; returns the ids of the earlier days' cases."""
    state = live.state
    context = IngestContext(store=state.store, limits=IngestLimits.from_settings(settings))
    signers: dict[str, Signer] = {}
    now = utcnow()
    for seed in SEEDS:
        if seed.chained and seed.edge_id not in signers:
            edge = signers[seed.edge_id] = Signer(edge_id=seed.edge_id)
            raw = edge.key.public_key().public_bytes_raw()
            with state.session_factory() as session, session.begin():
                chain_store.register_key(
                    session,
                    edge_id=seed.edge_id,
                    public_key_text=base64.b64encode(raw).decode(),
                    now=now,
                )
    plan = [
        (seed, days_ago)
        for days_ago in range(HISTORY_DAYS, 0, -1)
        for seed in SEEDS
        if seed.chained and (days_ago + len(seed.camera_id)) % 3 != 0
    ]
    plan += [(seed, 0) for seed in SEEDS]
    for n, (seed, days_ago) in enumerate(plan):
        signer = signers.get(seed.edge_id) if seed.chained else None
        for message in _messages(seed, signer, now, n, days_ago=days_ago):
            outcome = dispatch(
                state.session_factory,
                message.topic,
                message.payload,
                props(message.content_type),
                context=context,
                metrics=state.metrics,
                now=utcnow(),
            )
            if not outcome.accepted:
                raise RuntimeError(f"the ingest refused {message.topic}: {outcome}")
    return list(range(1, len(plan) - len(SEEDS) + 1))  # ids in ingest order (SQLite)


def create_accounts(live: LiveServer) -> None:
    """The accounts, and the seeds' cameras in the city's registry."""
    now = utcnow()
    with live.state.session_factory() as session, session.begin():
        for username, role, unit_id in ACCOUNTS:
            auth.create_user(
                session, username=username, password=PASSWORD, role=role, now=now, unit_id=unit_id
            )
        for (edge_id, camera_id), (unit_id, name, lat, lon) in CAMERAS.items():
            session.add(
                Camera(
                    edge_id=edge_id,
                    camera_id=camera_id,
                    name=name,
                    unit_id=unit_id,
                    lat=lat,
                    lon=lon,
                    enabled=True,
                    created_at=now,
                )
            )


def _cleared_photo() -> bytes:
    """A disposal photo: the pavement of the stall scene before the stall is set up."""
    import cv2

    rng = np.random.default_rng(11)
    staged = stall_stage(rng, *FRAME_WH, 30.0, Light.DAY)
    film = Film(staged.stage, rng, noise_frames=1)
    image = film.photo(film.scene(max(0.5, staged.t_setup - 4.0)), 0, staged.stage.caption)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
    if not ok:
        raise RuntimeError("OpenCV could not encode the disposal photo")
    return bytes(encoded.tobytes())


def walk_lifecycle(url: str, case_ids: Sequence[int]) -> int:
    """Take the earlier cases through the lifecycle over the API, each as far as its turn
    says (confirm, reject, dispatch, disposal, verify, close); returns a closed case's id."""
    import httpx

    def client(username: str) -> httpx.Client:
        reply = httpx.post(
            f"{url}/api/v1/auth/login", json={"username": username, "password": PASSWORD}
        )
        reply.raise_for_status()
        bearer = {"Authorization": f"Bearer {reply.json()['token']}"}
        return httpx.Client(base_url=f"{url}/api/v1/cases", headers=bearer, timeout=30)

    reviewer, dispatcher, team = (client(name) for name, _, _ in ACCOUNTS)
    photo = _cleared_photo()
    closed = 0
    for turn, case_id in enumerate(case_ids):
        if turn % 5 == 4:
            reject = {"verdict": "reject", "reason": "误报：行人撑伞"}
            reviewer.post(f"/{case_id}/review", json=reject).raise_for_status()
            continue
        confirm = {"verdict": "confirm", "reason": "现场核实", "override_chain": False}
        reviewer.post(f"/{case_id}/review", json=confirm).raise_for_status()
        case = dispatcher.get(f"/{case_id}").json()
        if turn % 5 == 3 or case["unit_id"] != "sh-huangpu-nanjingdong":
            continue  # 立案, waiting for dispatch (only the team of 南京东路 has an account)
        team_id = "sh-huangpu-nanjingdong-team1"
        dispatch = {"team_unit_id": team_id, "note": "请按时处置"}
        dispatcher.post(f"/{case_id}/dispatch", json=dispatch).raise_for_status()
        files = {"photos": ("after.jpg", photo, "image/jpeg")}
        done = {"note": "已劝离摊主，现场已清理"}
        team.post(f"/{case_id}/disposals", files=files, data=done).raise_for_status()
        dispatcher.post(f"/{case_id}/verify", json={"accepted": True}).raise_for_status()
        dispatcher.post(f"/{case_id}/close", json={"note": "结案"}).raise_for_status()
        closed = case_id
    for http in (reviewer, dispatcher, team):
        http.close()
    if not closed:
        raise RuntimeError("no case was walked to closed")
    return closed


def save_png(png: bytes, path: Path) -> None:
    """Write ``png`` at most 1280 px wide, palette-quantised and optimised."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as shot:
        image = shot.convert("RGB")
    if image.width > VIEWPORT["width"]:
        height = round(image.height * VIEWPORT["width"] / image.width)
        image = image.resize((VIEWPORT["width"], height), Image.Resampling.LANCZOS)
    for colours in (256, 128):  # fewer colours when a photo-heavy page would be large
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


def take_screenshots(url: str, out: Path, case_id: int) -> None:
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
        )
        with LiveServer(settings) as live:
            started = time.monotonic()
            create_accounts(live)
            earlier = seed_cases(live, settings)
            logger.info(
                "seeded %d cases in %.1f s", len(earlier) + len(SEEDS), time.monotonic() - started
            )
            closed = walk_lifecycle(live.url, earlier)
            take_screenshots(live.url, out, closed)
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
