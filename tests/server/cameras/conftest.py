"""Camera tools' fixtures: a small unit tree, a started app, and real snapshot JPEGs."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from datetime import datetime

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from contracts.control import SnapshotMessage
from server.org.tables import Unit, UnitLevel
from tests.server.test_review_page import browser as browser  # Chromium, for the page tests

STREET = "sh-huangpu-nanjingdong"
OTHER_STREET = "sh-huangpu-waitan"
STREAM = "rtsp://admin:s3cret-pw@10.0.0.5:554/stream1"


def add_units(session_factory: sessionmaker[Session]) -> None:
    """市 > 区 > two 街镇."""
    with session_factory() as session, session.begin():
        session.add(Unit(id="sh", name="上海市", name_en="Shanghai", level=UnitLevel.CITY))
        session.add(
            Unit(
                id="sh-huangpu",
                name="黄浦区",
                name_en="Huangpu",
                level=UnitLevel.DISTRICT,
                parent_id="sh",
            )
        )
        session.flush()
        for unit_id, name in ((STREET, "南京东路街道"), (OTHER_STREET, "外滩街道")):
            session.add(
                Unit(
                    id=unit_id,
                    name=name,
                    name_en=unit_id,
                    level=UnitLevel.STREET,
                    parent_id="sh-huangpu",
                )
            )


@pytest.fixture
def app_client(client: TestClient) -> Iterator[TestClient]:
    """The started app (SQLite and PostgreSQL) with the unit tree."""
    add_units(client.app.state.civicwatch.session_factory)  # type: ignore[attr-defined]
    yield client


def camera_body(camera_id: str = "cam-1", **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "edge_id": "edge-1",
        "camera_id": camera_id,
        "name": "南京东路 1号",
        "unit_id": STREET,
        "stream_url": STREAM,
        "profile": "stationary",
    }
    body.update(overrides)
    return body


def jpeg(seed: int = 0, wh: tuple[int, int] = (320, 180)) -> bytes:
    """A real JPEG (a gradient with a box)."""
    w, h = wh
    image = np.zeros((h, w, 3), dtype=np.uint8)
    image[:, :, 1] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]
    cv2.rectangle(image, (20 + seed, 20), (120 + seed, 120), (0, 0, 255), -1)
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return bytes(data.tobytes())


def snapshot_message(
    data: bytes, *, at: datetime, camera_id: str = "cam-1", edge_id: str = "edge-1"
) -> SnapshotMessage:
    return SnapshotMessage(
        edge_id=edge_id,
        camera_id=camera_id,
        captured_at=at,
        width=320,
        height=180,
        sha256=hashlib.sha256(data).hexdigest(),
        jpeg_base64=base64.b64encode(data).decode("ascii"),
    )
