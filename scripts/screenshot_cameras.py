"""The screenshots' camera tools (:mod:`screenshots`): the seeds' cameras as an operator
registers them, their zones, and what their edges report.

:func:`register_cameras` adds the seeds' cameras over the API as the operator account does on
``/cameras`` (stream URL with credentials, profile, position); :func:`seed_camera_tools` then
ingests, through the ingest's own :func:`server.ingest.dispatch` (what the MQTT client calls
for every message), what their edges send: a snapshot of each camera (the rendered street
scene its cases come from), the edge's config status, and a few minutes of health samples;
between them the operator saves each camera's zones over the API, drawn on that snapshot.
The 静安 camera's view has turned away (low similarity to the reference snapshot) and its
frames thin out; :func:`server.cameras.alarm_store.check_alarms` (what the server's alarm
loop runs) raises its alarm.
"""

from __future__ import annotations

import base64
import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from screenshot_seed import CAMERAS, FRAME_WH, PASSWORD, SEEDS, Seed, scene_of, zone_around

from contracts import topics
from contracts.control import ApplyState, CameraConfigStatus, ConfigStatus, SnapshotMessage
from contracts.health import CameraHealth, CameraState, EdgeHealth
from server import auth
from server.cameras.alarm_store import check_alarms
from server.core.config import Settings
from server.core.db import utcnow
from server.ingest import IngestContext, IngestLimits, dispatch
from server.tables import UserRole
from tests.server.builders import props
from tests.support.live_server import LiveServer

OPERATOR = "zhou.operator"
"""The camera operator of the city (the camera pages' screenshots)."""
ADMIN = "gu.admin"
"""An administrator (the webhooks page)."""
HEALTH_SAMPLES = 36
HEALTH_EVERY_S = 5.0
TURNED_AWAY = ("edge-jingan-02", "cam-gonghe-rd-12")
"""The camera whose view has turned away: it raises the alarm of the screenshot."""
STALE_EDGE = "edge-jingan-02"
"""Its edge still runs the zones before the last save (the list says 'pending')."""


@dataclass(frozen=True)
class Registered:
    """A camera of the registry and the seed whose scene it watches."""

    pk: int
    seed: Seed


def create_operators(live: LiveServer) -> None:
    """The operator and the admin, city-wide."""
    now = utcnow()
    with live.state.session_factory() as session, session.begin():
        for username, role in ((OPERATOR, UserRole.OPERATOR), (ADMIN, UserRole.ADMIN)):
            auth.create_user(
                session, username=username, password=PASSWORD, role=role, now=now, unit_id="sh"
            )


def api_client(url: str, username: str) -> httpx.Client:
    """An API client logged in as ``username``."""
    reply = httpx.post(
        f"{url}/api/v1/auth/login", json={"username": username, "password": PASSWORD}
    )
    reply.raise_for_status()
    bearer = {"Authorization": f"Bearer {reply.json()['token']}"}
    return httpx.Client(base_url=f"{url}/api/v1", headers=bearer, timeout=30)


def register_cameras(url: str) -> list[Registered]:
    """The seeds' cameras, registered by the operator over the API."""
    registered: list[Registered] = []
    with api_client(url, OPERATOR) as operator:
        for n, ((edge_id, camera_id), (unit_id, name, lat, lon)) in enumerate(CAMERAS.items()):
            body = {
                "edge_id": edge_id,
                "camera_id": camera_id,
                "name": name,
                "unit_id": unit_id,
                "lat": lat,
                "lon": lon,
                "stream_url": f"rtsp://admin:Cw-{n}-stream@10.20.{n}.{11 + n}:554/Streaming/101",
                "profile": "road" if camera_id == TURNED_AWAY[1] else "stationary",
            }
            reply = operator.post("/cameras", json=body)
            if reply.status_code != 201:
                raise RuntimeError(f"registering {edge_id}/{camera_id}: {reply.text}")
            seed = next(s for s in SEEDS if (s.edge_id, s.camera_id) == (edge_id, camera_id))
            registered.append(Registered(pk=int(reply.json()["id"]), seed=seed))
    return registered


def _polygon(seed: Seed) -> list[list[float]]:
    """The zone of the seed's evidence (the same outline), as fractions of the frame."""
    w, h = FRAME_WH
    return [[round(float(x) / w, 3), round(float(y) / h, 3)] for x, y in zone_around(_box(seed))]


def _box(seed: Seed) -> tuple[float, float, float, float]:
    return scene_of(seed).box_xyxy


def _zone(seed: Seed) -> dict[str, Any]:
    """The seed's zone as the editor sends it."""
    polygon = _polygon(seed)
    xs, ys = [p[0] for p in polygon], [p[1] for p in polygon]
    name = seed.zone_label.split(" ", 1)[-1]
    zone: dict[str, Any] = {"id": seed.zone_id, "name": name, "polygon": polygon}
    if seed.violation == "street_stall":
        zone |= {"kind": "no_vending", "objects": ["stall", "goods"], "dwell_s": 300}
    elif seed.violation == "cross_door":
        y = round(min(ys) + 0.3 * (max(ys) - min(ys)), 3)
        x1, x2 = (
            round(min(xs) + 0.25 * (max(xs) - min(xs)), 3),
            round(max(xs) - 0.25 * (max(xs) - min(xs)), 3),
        )
        zone |= {
            "kind": "shop_frontage",
            "objects": ["goods", "stall"],
            "dwell_s": 120,
            "shop": {"id": str(seed.details["shop_id"]), "name": str(seed.details["shop_name"])},
            "door_line": {"points": [[x1, y], [x2, y]], "street_side": "below"},
        }
    else:
        x = round((min(xs) + max(xs)) / 2, 3)
        y1, y2 = (
            round(min(ys) + 0.1 * (max(ys) - min(ys)), 3),
            round(max(ys) - 0.1 * (max(ys) - min(ys)), 3),
        )
        zone |= {
            "kind": "road",
            "objects": ["truck"],
            "dwell_s": 0,
            "crossing_line": {"points": [[x, y1], [x, y2]], "direction": "any"},
        }
    return zone


def _jpeg(seed: Seed) -> bytes:
    import cv2

    ok, encoded = cv2.imencode(".jpg", scene_of(seed).image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise RuntimeError("OpenCV could not encode the snapshot")
    return bytes(encoded.tobytes())


class _Edges:
    """Sends what the edges send, through the ingest's own dispatch."""

    def __init__(self, live: LiveServer, settings: Settings) -> None:
        self._state = live.state
        self._context = IngestContext(
            store=live.state.store, limits=IngestLimits.from_settings(settings)
        )

    def send(self, topic: str, payload: bytes) -> None:
        outcome = dispatch(
            self._state.session_factory,
            topic,
            payload,
            props("application/json"),
            context=self._context,
            metrics=self._state.metrics,
            now=utcnow(),
        )
        if not outcome.accepted:
            raise RuntimeError(f"the ingest refused {topic}: {outcome}")


def _snapshot(seed: Seed, at: datetime) -> tuple[str, bytes, str]:
    """The snapshot message's topic and payload, and the JPEG's sha256."""
    data = _jpeg(seed)
    sha = hashlib.sha256(data).hexdigest()
    message = SnapshotMessage(
        edge_id=seed.edge_id,
        camera_id=seed.camera_id,
        captured_at=at,
        width=FRAME_WH[0],
        height=FRAME_WH[1],
        sha256=sha,
        jpeg_base64=base64.b64encode(data).decode("ascii"),
    )
    return topics.snapshot_topic(seed.edge_id, seed.camera_id), message.to_json(), sha


def _camera_health(seed: Seed, i: int, reference: str) -> CameraHealth:
    """Sample ``i`` of a camera: about 2 analysed frames a second with some swing; the
    turned-away camera drops frames and matches its reference badly in the last minute."""
    turned = (seed.edge_id, seed.camera_id) == TURNED_AWAY
    late = turned and i >= HEALTH_SAMPLES - 12
    phase = len(seed.camera_id)
    received = int(i * HEALTH_EVERY_S * 25)
    analysed = int(sum(2.0 + 0.6 * math.sin(0.5 * k + phase) for k in range(i)) * HEALTH_EVERY_S)
    if late:
        analysed -= (i - (HEALTH_SAMPLES - 12)) * 7
    return CameraHealth(
        camera_id=seed.camera_id,
        state=CameraState.RUNNING,
        frames_received=received,
        frames_analysed=max(analysed, 0),
        frames_dropped=i * (9 if late else 2),
        decode_errors=1 if turned else 0,
        reconnects=0,
        last_frame_age_s=0.04 * (1 + i % 3),
        detector_latency_p50_ms=31.0 + (i % 5),
        frozen=False,
        frozen_for_s=0.0,
        view_similarity=0.31 if late else 0.93,
        reference_sha256=reference,
    )


def seed_camera_tools(live: LiveServer, settings: Settings, cameras: list[Registered]) -> None:
    """Snapshots, zones drawn on them, the edges' config status, health, and the alarm."""
    edges = _Edges(live, settings)
    now = utcnow()
    references: dict[int, str] = {}
    for camera in cameras:
        topic, payload, sha = _snapshot(camera.seed, now - timedelta(minutes=4))
        edges.send(topic, payload)
        references[camera.pk] = sha
    with api_client(live.url, OPERATOR) as operator:
        for camera in cameras:
            body = {
                "document": {"zones": [_zone(camera.seed)]},
                "base_version": 1,
                "comment": "按现场画面划定",
                "reference_sha256": references[camera.pk],
            }
            reply = operator.post(f"/cameras/{camera.pk}/zones", json=body)
            if reply.status_code != 201:
                raise RuntimeError(f"saving the zones of camera {camera.pk}: {reply.text}")
        listed = {c["id"]: c for c in operator.get("/cameras").json()["items"]}
    edge_ids = sorted({c.seed.edge_id for c in cameras})
    runs: dict[str, int] = {}
    for edge_id in edge_ids:
        mine = [c for c in cameras if c.seed.edge_id == edge_id]
        version = int(listed[mine[0].pk]["apply"]["config_version"])
        running = runs[edge_id] = version - 1 if edge_id == STALE_EDGE else version
        status = ConfigStatus(
            edge_id=edge_id,
            received_version=running,
            state=ApplyState.APPLIED,
            running_version=running,
            source="server",
            cameras=[
                CameraConfigStatus(
                    camera_id=c.seed.camera_id,
                    zone_version=1 if edge_id == STALE_EDGE else 2,
                    enabled=True,
                )
                for c in mine
            ],
            reported_at=now - timedelta(minutes=3),
        )
        edges.send(topics.status_topic(edge_id), status.to_json())
    for i in range(HEALTH_SAMPLES):
        sampled = now - timedelta(seconds=HEALTH_EVERY_S * (HEALTH_SAMPLES - 1 - i))
        for edge_id in edge_ids:
            health = EdgeHealth(
                edge_id=edge_id,
                sampled_at=sampled,
                uptime_s=3600.0 + i * HEALTH_EVERY_S,
                config_version=runs[edge_id],
                cameras=[
                    _camera_health(c.seed, i, references[c.pk])
                    for c in cameras
                    if c.seed.edge_id == edge_id
                ],
            )
            edges.send(topics.health_topic(edge_id), health.to_json())
    with live.state.session_factory() as session, session.begin():
        if not check_alarms(session, now=utcnow(), limits=settings.cameras.thresholds()):
            raise RuntimeError("the turned-away camera raised no alarm")
