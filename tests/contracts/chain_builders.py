"""Builders for chain tests: events, keys, signed records, an in-memory edge chain."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts.chain import (
    GENESIS_HASH,
    ChainRecord,
    SignedChainRecord,
    event_digest,
    key_id_of,
    sign_record,
)
from contracts.events import EvidenceKind, EvidenceRef, ZoneEvent

T0 = datetime(2024, 5, 1, 8, 0, 0, tzinfo=UTC)
MODEL = {"name": "civicwatch-yolo11n", "version": "1", "sha256": "ab" * 32}

JPEG_HEADER = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    b"\xff\xc0\x00\x11\x08\x00\x30\x00\x40\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01"
)
"""SOI, a JFIF APP0 and a 64x48 frame header (the ingest reads the pixel size from it)."""


def fake_jpeg(seed: int | str, size: int = 600) -> bytes:
    """Bytes that start like a JPEG (the ingest checks the magic), distinct per seed."""
    body = hashlib.sha256(str(seed).encode()).digest()
    return JPEG_HEADER + (body * (size // len(body) + 1))[:size]


def evidence_ref(data: bytes, kind: EvidenceKind = EvidenceKind.FRAME) -> EvidenceRef:
    return EvidenceRef.model_validate(
        {
            "sha256": hashlib.sha256(data).hexdigest(),
            "kind": kind,
            "content_type": "image/jpeg",
            "byte_size": len(data),
            "captured_at": T0,
        }
    )


def make_event(
    *,
    edge_id: str = "edge-1",
    camera_id: str = "cam-1",
    event_id: str | None = None,
    phase: str = "start",
    seconds: float = 0.0,
    evidence: list[EvidenceRef] | None = None,
) -> ZoneEvent:
    dwell = 30.0 + seconds
    fields: dict[str, Any] = {
        "event_id": event_id or uuid.uuid4().hex,
        "phase": phase,
        "edge_id": edge_id,
        "camera_id": camera_id,
        "zone_id": "sidewalk-a",
        "rule": "street_stall",
        "violation_type": "street_stall",
        "label": "stall",
        "confidence": 0.8,
        "box": {"x1": 0.1, "y1": 0.2, "x2": 0.3, "y2": 0.5},
        "first_seen": T0,
        "last_seen": T0 + timedelta(seconds=dwell),
        "dwell_s": dwell,
        "model": MODEL,
        "evidence": evidence or [],
        "sent_at": T0 + timedelta(seconds=dwell, milliseconds=50),
    }
    return ZoneEvent.model_validate(fields)


@dataclass
class Signer:
    """An edge's key and chain head, producing consecutive signed records (no I/O)."""

    edge_id: str = "edge-1"
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    seq: int = 0
    head: str = GENESIS_HASH

    @property
    def key_id(self) -> str:
        return key_id_of(self.key.public_key())

    def record(
        self, event: ZoneEvent, *, advance: bool = True, **overrides: Any
    ) -> SignedChainRecord:
        fields: dict[str, Any] = {
            "edge_id": self.edge_id,
            "seq": self.seq + 1,
            "prev_hash": self.head,
            "kind": "event",
            "event_id": event.event_id,
            "phase": event.phase,
            "event_sha256": event_digest(event),
            "evidence_sha256": [ref.sha256 for ref in event.evidence],
            "recorded_at": T0 + timedelta(seconds=self.seq),
            "key_id": self.key_id,
        }
        fields.update(overrides)
        signed = sign_record(ChainRecord.model_validate(fields), self.key)
        if advance:
            self.seq = signed.record.seq
            self.head = signed.hash
        return signed

    def drop(self, hashes: list[str]) -> SignedChainRecord:
        record = ChainRecord.model_validate(
            {
                "edge_id": self.edge_id,
                "seq": self.seq + 1,
                "prev_hash": self.head,
                "kind": "drop",
                "dropped_sha256": hashes,
                "drop_reason": "outbox_budget",
                "recorded_at": T0 + timedelta(seconds=self.seq),
                "key_id": self.key_id,
            }
        )
        signed = sign_record(record, self.key)
        self.seq, self.head = record.seq, signed.hash
        return signed


@dataclass(frozen=True)
class WireMessage:
    """One MQTT message as an edge publishes it."""

    topic: str
    payload: bytes
    content_type: str


def edge_messages(
    signer: Signer,
    *,
    seed: int | str,
    phase: str = "start",
    event_id: str | None = None,
    n_evidence: int = 2,
    evidence_size: int = 600,
) -> tuple[ZoneEvent, list[WireMessage]]:
    """An event with evidence and its chain record, as the edge enqueues them (in order)."""
    from contracts import topics

    blobs = [fake_jpeg(f"{seed}-{i}", evidence_size) for i in range(n_evidence)]
    event = make_event(
        edge_id=signer.edge_id,
        event_id=event_id,
        phase=phase,
        evidence=[evidence_ref(blob) for blob in blobs],
    )
    signed = signer.record(event)
    messages = [
        WireMessage(
            topics.evidence_topic(signer.edge_id, hashlib.sha256(b).hexdigest()), b, "image/jpeg"
        )
        for b in blobs
    ]
    messages.append(
        WireMessage(
            topics.event_topic(signer.edge_id, event.camera_id), event.to_json(), "application/json"
        )
    )
    messages.append(
        WireMessage(
            topics.chain_topic(signer.edge_id, signed.record.seq),
            signed.to_json(),
            "application/json",
        )
    )
    return event, messages
