"""The request body limit per route: 1 MiB everywhere, but a disposal report takes its photos
and a clip chunk the edge's largest chunk (refused before authentication or parsing)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from annotated_types import Le
from fastapi.testclient import TestClient

from contracts.chain import event_digest
from edge.clips.config import ClipUploadConfig
from server import auth, crud
from server.core.config import Settings, load_settings
from server.main import create_app
from server.middleware import (
    DISPOSAL_FORM_OVERHEAD_BYTES,
    BodyLimitMiddleware,
    route_body_limits,
)
from server.state import ServerState
from server.tables import UserRole
from tests.server import builders as b
from tests.server.conftest import NOW

cv2 = pytest.importorskip("cv2", reason="OpenCV encodes the disposal photo")

MIB = 1024 * 1024
UNITS = Path(__file__).resolve().parents[2] / "configs" / "units.yaml"
NJD = "sh-huangpu-nanjingdong"
ACCOUNTS = {
    "njd-rev": (UserRole.REVIEWER, NJD, "street-review-pass-3"),
    "hp-disp": (UserRole.DISPATCHER, "sh-huangpu", "district-disp-pass-2"),
    "njd-team": (UserRole.TEAM, f"{NJD}-team1", "street-team-pass-4"),
}
CLIP = "/api/v1/evidence/clips/" + "ab" * 32


def _settings(tmp_path: Path, **lifecycle: Any) -> Settings:
    return load_settings(
        None,
        database_url=f"sqlite:///{tmp_path / 'cases.db'}",
        evidence_dir=tmp_path / "evidence",
        mqtt_enabled=False,
        auth_enabled=True,
        units_file=UNITS,
        lifecycle={"overdue_interval_s": 0, **lifecycle},
        retention={"interval_s": 0},
    )


@pytest.mark.parametrize(
    ("method", "path", "limit", "reason"),
    [
        ("POST", "/api/v1/cases/7/disposals", 10 * 10 * MIB + DISPOSAL_FORM_OVERHEAD_BYTES, "10"),
        ("GET", "/api/v1/cases/7/disposals", MIB, None),
        ("POST", "/api/v1/cases/7/disposals/x", MIB, None),
        ("POST", "/api/v1/cases/7/review", MIB, None),
        ("PUT", CLIP, 8 * MIB, "clip chunk"),
        ("PUT", CLIP + "/more", MIB, None),
        ("POST", "/api/v1/auth/login", 16 * 1024, None),
        ("POST", "", MIB, None),
    ],
)
def test_limit_of_a_route(
    tmp_path: Path, method: str, path: str, limit: int, reason: str | None
) -> None:
    settings = _settings(tmp_path)
    middleware = BodyLimitMiddleware(
        create_app(settings),
        default_limit=settings.http_limits.body_bytes,
        limits={"/api/v1/auth/login": settings.http_limits.login_body_bytes},
        routes=route_body_limits(settings),
    )
    got, why = middleware.limit_of(method, path)
    assert got == limit
    assert (why is None) if reason is None else (why is not None and reason in why)


def test_the_edge_clip_chunks_fit_the_clip_route() -> None:
    """The edge's chunk_bytes (default and largest allowed) pass the server's default limit."""
    field = ClipUploadConfig.model_fields["chunk_bytes"]
    largest = next(int(m.le) for m in field.metadata if isinstance(m, Le))  # type: ignore[call-overload]
    limits = route_body_limits(load_settings(None))
    clip = next(r for r in limits if r.method == "PUT")
    assert isinstance(field.default, int) and field.default <= largest <= clip.limit


@pytest.fixture
def center(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, dict[str, str]], int]]:
    """The default limits; a case of the street dispatched to its team."""
    with TestClient(create_app(_settings(tmp_path))) as client:
        state: ServerState = client.app.state.civicwatch  # type: ignore[attr-defined]
        event = b.event(
            event_id="d" * 32,
            edge_id="demo-edge",
            camera_id="demo-cam",
            rule="street_stall",
            violation_type="street_stall",
        )
        with state.session_factory() as session, session.begin():
            for name, (role, unit, password) in ACCOUNTS.items():
                auth.create_user(
                    session, username=name, password=password, role=role, now=NOW, unit_id=unit
                )
            case_id = crud.upsert_event(
                session,
                event=event,
                payload=b.as_dict(event),
                payload_sha256=event_digest(event),
                received_at=NOW,
            ).case_id
        headers = {}
        for name, (_, _, password) in ACCOUNTS.items():
            reply = client.post("/api/v1/auth/login", json={"username": name, "password": password})
            headers[name] = {"Authorization": f"Bearer {reply.json()['token']}"}
        client.cookies.clear()
        confirm = {"verdict": "confirm", "reason": "清楚", "override_chain": True}
        reply = client.post(
            f"/api/v1/cases/{case_id}/review", headers=headers["njd-rev"], json=confirm
        )
        assert reply.status_code == 200, reply.text
        reply = client.post(
            f"/api/v1/cases/{case_id}/dispatch",
            headers=headers["hp-disp"],
            json={"team_unit_id": f"{NJD}-team1"},
        )
        assert reply.status_code == 200, reply.text
        yield client, headers, case_id


def test_a_3_mib_photo_is_taken_and_a_40_mib_one_refused(
    center: tuple[TestClient, dict[str, dict[str, str]], int],
) -> None:
    client, headers, case_id = center
    image = np.random.default_rng(7).integers(0, 255, (1536, 2048, 3), np.uint8)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    jpeg = bytes(encoded.tobytes())
    assert 3 * MIB <= len(jpeg) <= 10 * MIB
    reply = client.post(
        f"/api/v1/cases/{case_id}/disposals",
        headers=headers["njd-team"],
        data={"note": "摊位已清理"},
        files=[("photos", ("after.jpg", jpeg, "image/jpeg"))],
    )
    assert reply.status_code == 201, reply.text
    photo = reply.json()["disposals"][0]["photos"][0]
    assert (photo["width"], photo["height"], photo["content_type"]) == (2048, 1536, "image/jpeg")

    # 40 MiB is within the report's 100 MiB; the route's own limit refuses the photo.
    huge = jpeg + b"\0" * (40 * MIB - len(jpeg))
    reply = client.post(
        f"/api/v1/cases/{case_id}/disposals",
        headers=headers["njd-team"],
        data={"note": "太大"},
        files=[("photos", ("huge.jpg", huge, "image/jpeg"))],
    )
    assert reply.status_code == 413
    assert "huge.jpg" in reply.json()["detail"] and str(10 * MIB) in reply.json()["detail"]

    # Any other route keeps 1 MiB.
    reply = client.post(
        f"/api/v1/cases/{case_id}/review",
        headers={**headers["njd-rev"], "Content-Type": "application/json"},
        content=b"{" + b" " * (2 * MIB) + b"}",
    )
    assert reply.status_code == 413
    assert reply.json()["detail"] == f"request body is larger than {MIB} bytes"


def test_a_report_over_its_photos_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """With 3 photos of 10 MiB, a 40 MiB report is refused before the login is checked."""
    with TestClient(create_app(_settings(tmp_path, max_photos=3))) as client:
        reply = client.post(
            "/api/v1/cases/1/disposals",
            content=b"\0" * (40 * MIB),
            headers={"Content-Type": "multipart/form-data; boundary=x"},
        )
        assert reply.status_code == 413
        limit = 3 * 10 * MIB + DISPOSAL_FORM_OVERHEAD_BYTES
        detail = reply.json()["detail"]
        assert detail.startswith(f"request body is larger than {limit} bytes")
        assert "at most 3 photos, each at most 10485760 bytes" in detail
        # The largest chunk the edge may send reaches the route (no login: 401), one more is 413.
        largest = 8 * MIB
        reply = client.put(CLIP, content=b"\0" * largest)
        assert reply.status_code == 401, reply.text
        reply = client.put(CLIP, content=b"\0" * (largest + 1))
        assert reply.status_code == 413 and "clip_chunk_bytes" in reply.json()["detail"]
