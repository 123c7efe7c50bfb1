"""The screenshots' server contents (:mod:`screenshots`): accounts, the seeds' cameras, cases
and their lifecycle.

:func:`create_accounts` adds the accounts through :func:`server.auth.create_user` (what
``civicwatch users add`` runs); :data:`CAMERAS` are the seeds' cameras in the seeded city's
streets (:mod:`screenshot_cameras` registers them over the API); :func:`seed_cases` ingests
the cases through the ingest's own :func:`server.ingest.dispatch`
(what the MQTT client calls for every message) with evidence the edge makes
(:func:`edge.evidence.snapshot_set`) from street scenes the project renders
(:mod:`training.scenes`); :func:`walk_lifecycle` takes the earlier ones through the lifecycle
over the API (confirm, reject, dispatch, a disposal photo, verify, close).

The seeded set: a street stall, a cross-door case naming its shop and a muck truck with its
plate, each with a verified chain record of its edge, earlier cases of the same cameras over
the past days, and one event without a chain record.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from contracts import topics
from contracts.events import ZoneEvent
from edge.evidence import Annotation, EvidenceConfig, EvidenceItem, snapshot_set
from edge.types import FloatArray, ImageArray
from server import auth, chain_store
from server.core.config import Settings
from server.core.db import utcnow
from server.ingest import IngestContext, IngestLimits, dispatch
from server.tables import UserRole
from tests.contracts.chain_builders import Signer, WireMessage
from tests.server.builders import props
from tests.support.live_server import LiveServer
from training.scenes.render import Light
from training.scenes.scenery import Shop
from training.scenes.stages import (
    GoodsStep,
    TruckPass,
    goods_stage,
    stall_stage,
    trucks_stage,
)
from training.scenes.staging import Film, Stage

USERNAME = "shen.reviewer"
PASSWORD = "Qiao-Bridge-Night-47"  # throw-away accounts in a throw-away database
ACCOUNTS = (
    (USERNAME, UserRole.REVIEWER, "sh"),
    ("lu.dispatcher", UserRole.DISPATCHER, "sh"),
    ("nanjingdong.team", UserRole.TEAM, "sh-huangpu-nanjingdong-team1"),
)
"""User name, role and unit: a city-level reviewer (the screenshots), a dispatcher, a team."""
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


def zone_around(box: tuple[float, ...]) -> FloatArray:
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


def scene_of(seed: Seed) -> Scene:
    """The seed's rendered scene (rendered once; earlier cases reuse it)."""
    key = f"{seed.edge_id}/{seed.camera_id}/{seed.chained}"
    if key not in _SCENES:
        _SCENES[key] = seed.scene()
    return _SCENES[key]


def _messages(
    seed: Seed, signer: Signer | None, now: datetime, n: int, *, days_ago: int = 0
) -> list[WireMessage]:
    """Evidence, event and (for a chained seed) the signed chain record, in the edge's order."""
    scene = scene_of(seed)
    captured = now - timedelta(days=days_ago, minutes=12 - 3 * (n % 4) + 37 * days_ago)
    annotation = Annotation(
        zone_polygon_px=zone_around(scene.box_xyxy),
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
    """The accounts of the case lifecycle (the cameras' operator is
    :func:`screenshot_cameras.create_operators`)."""
    now = utcnow()
    with live.state.session_factory() as session, session.begin():
        for username, role, unit_id in ACCOUNTS:
            auth.create_user(
                session, username=username, password=PASSWORD, role=role, now=now, unit_id=unit_id
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
