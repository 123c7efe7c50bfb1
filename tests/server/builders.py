"""Builders for wire messages and real evidence bytes used by the server tests."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from contracts import topics
from contracts.events import EvidenceKind, EvidenceRef, ZoneEvent
from server.ingest import IngestLimits

T0 = datetime(2024, 5, 1, 8, 0, 0, tzinfo=UTC)

UNCHAINED = IngestLimits(require_chain=False, max_clock_skew_s=7 * 24 * 3600.0)
"""Limits for tests of ingest behaviour other than trust: unsigned events (no chain
record) make cases directly, and the fixed test clock may lie before the events' times.
The trust gate itself is tested in tests/security/ and tests/server/test_chain_ingest.py."""
MODEL = {"name": "civicwatch-yolo11n", "version": "1", "sha256": "ab" * 32}


def jpeg(seed: int, size_wh: tuple[int, int] = (64, 48)) -> bytes:
    """A real JPEG (distinct per seed) encoded by OpenCV."""
    cv2 = pytest.importorskip("cv2", reason="OpenCV encodes the test JPEGs")
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 255, size=(size_wh[1], size_wh[0], 3), dtype=np.uint8)
    cv2.rectangle(image, (4, 4), (size_wh[0] // 2, size_wh[1] // 2), (0, 0, 255), 2)
    ok, encoded = cv2.imencode(".jpg", image)
    assert ok
    return bytes(encoded.tobytes())


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Item:
    """One evidence item: bytes and the reference an event carries."""

    data: bytes
    ref: EvidenceRef

    @property
    def sha256(self) -> str:
        return self.ref.sha256


def item(data: bytes, kind: EvidenceKind, content_type: str = "image/jpeg") -> Item:
    ref = EvidenceRef.model_validate(
        {
            "sha256": sha(data),
            "kind": kind,
            "content_type": content_type,
            "byte_size": len(data),
            "captured_at": T0,
        }
    )
    return Item(data=data, ref=ref)


def event(
    *,
    event_id: str = "0" * 31 + "1",
    phase: str = "start",
    seconds: float = 0.0,
    evidence: list[EvidenceRef] | None = None,
    **overrides: Any,
) -> ZoneEvent:
    """A valid event ``seconds`` after the object was first seen (start at 30 s dwell)."""
    dwell = 30.0 + seconds
    first = T0
    last = T0 + timedelta(seconds=dwell)
    fields: dict[str, Any] = {
        "event_id": event_id,
        "phase": phase,
        "edge_id": "edge-1",
        "camera_id": "cam-1",
        "zone_id": "sidewalk-a",
        "rule": "street_stall",
        "violation_type": "street_stall",
        "label": "stall",
        "confidence": 0.8 + seconds / 1000,
        "box": {"x1": 0.1, "y1": 0.2, "x2": 0.3 + seconds / 1000, "y2": 0.5},
        "first_seen": first,
        "last_seen": last,
        "dwell_s": dwell,
        "model": MODEL,
        "evidence": evidence or [],
        "sent_at": last + timedelta(milliseconds=50),
    }
    fields.update(overrides)
    return ZoneEvent.model_validate(fields)


def event_topic(ev: ZoneEvent) -> str:
    return topics.event_topic(ev.edge_id, ev.camera_id)


def evidence_topic(it: Item, edge_id: str = "edge-1") -> str:
    return topics.evidence_topic(edge_id, it.sha256)


def props(content_type: str | None) -> Properties | None:
    if content_type is None:
        return None
    properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    properties.ContentType = content_type
    return properties


def as_dict(ev: ZoneEvent) -> dict[str, Any]:
    return json.loads(ev.to_json())  # type: ignore[no-any-return]
