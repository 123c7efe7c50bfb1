"""A case's clip (evidence of kind ``clip``, ``video/mp4``, uploaded by its edge) plays on
the case page in Chromium through ``<video controls>``."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from server.tables import UserRole
from tests.server.pages.support import (
    PASSWORD,
    Account,
    Visitor,
    add_accounts,
    browser,
    city_settings,
    ingest_case,
)
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.integration

__all__ = ["browser"]

EVENT_ID = f"{0xA000 + 4:032x}"  # what ingest_case(…, 4, …) names the event


def mp4(frames: int = 20) -> bytes:
    av = pytest.importorskip("av", reason="PyAV encodes the clip")
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        for i in range(frames):
            image = np.full((96, 160, 3), (i * 12) % 256, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buffer.getvalue()


@pytest.fixture
def with_clip(tmp_path: Path) -> Iterator[LiveServer]:
    with LiveServer(city_settings(tmp_path)) as live:
        add_accounts(
            live,
            [
                Account("demo-edge", UserRole.EDGE, None),
                Account("city.admin", UserRole.ADMIN, None),
            ],
        )
        ingest_case(live, 4, edge_id="demo-edge", camera_id="demo-cam")
        clip = mp4()
        login = httpx.post(
            f"{live.url}/api/v1/auth/login", json={"username": "demo-edge", "password": PASSWORD}
        )
        bearer = {"Authorization": f"Bearer {login.json()['token']}"}
        put = httpx.put(
            f"{live.url}/api/v1/evidence/clips/{hashlib.sha256(clip).hexdigest()}",
            params={
                "event_id": EVENT_ID,
                "offset": 0,
                "total": len(clip),
                "captured_at": "2024-05-01T08:00:10Z",
            },
            content=clip,
            headers={**bearer, "Content-Type": "application/octet-stream"},
        )
        assert put.status_code == 200 and put.json()["complete"], put.text
        yield live


def test_the_clip_plays_on_the_case_page(with_clip: LiveServer, browser: Any) -> None:
    admin = Visitor(browser, with_clip, "city.admin")
    page = admin.open_case(1)
    video = page.locator("#clips video[data-kind='clip']")
    assert video.count() == 1 and video.get_attribute("controls") is not None
    page.wait_for_function(
        "v => v.readyState >= 1 && v.duration > 1.5",
        arg=video.element_handle(),
        timeout=20_000,
    )
    assert admin.errors == []
    admin.close()
