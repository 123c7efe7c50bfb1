"""Simulated edges for the ingest benches: a chain key each, signed records, real JPEGs.

A :class:`SimEdge` produces, per event, what a real edge's outbox publishes, in the same
order (evidence, event, chain record; :meth:`edge.chain.EdgeChain.enqueue`): its records
are signed with its own Ed25519 key by :func:`contracts.chain.sign_record`, the code the
edge signs with, and its public key is registered on the server like a real edge's.

Evidence is real JPEG: one textured street-like frame (1280x720, noise and shapes, so the
size is that of a real camera frame at quality 85) and a crop, encoded once; each event's
copies differ by a JPEG comment segment naming the event, so every event has its own
evidence hashes without encoding a frame per event.
"""

from __future__ import annotations

import hashlib
import struct
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import cv2
import numpy as np
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy.orm import Session, sessionmaker

from contracts import topics
from contracts.chain import GENESIS_HASH, ChainRecord, event_digest, key_id_of, sign_record
from contracts.events import ZoneEvent
from server import chain_store


@dataclass(frozen=True, slots=True)
class WireMessage:
    """One MQTT message as an edge publishes it."""

    topic: str
    payload: bytes
    content_type: str

    def properties(self) -> Properties:
        """The MQTT v5 properties the edge sends with it (its content type)."""
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.ContentType = self.content_type
        return props


@dataclass(frozen=True, slots=True)
class Evidence:
    """The two JPEGs of an event as encoded once; :func:`tagged` makes each event's copy."""

    annotated: bytes
    crop: bytes


def street_evidence(seed: int = 0, quality: int = 85) -> Evidence:
    """A textured 1280x720 frame (noise, road, a stall) and a 260x320 crop, as JPEG."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(110, 14, (720, 1280, 3)).clip(0, 255).astype(np.uint8)
    frame: np.ndarray = cv2.GaussianBlur(noise, (3, 3), 0)
    cv2.rectangle(frame, (0, 420), (1280, 720), (90, 90, 90), -1)
    road = frame[420:].astype(np.int16) + rng.integers(-12, 12, (300, 1280, 3))
    frame[420:] = road.clip(0, 255).astype(np.uint8)
    cv2.rectangle(frame, (500, 300), (760, 620), (30, 90, 200), -1)
    cv2.rectangle(frame, (500, 300), (760, 620), (0, 0, 255), 3)
    cv2.putText(frame, "street_stall 0.91", (500, 290), 0, 0.8, (255, 255, 255), 2)

    def encode(image: np.ndarray) -> bytes:
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise RuntimeError("OpenCV could not encode a JPEG")
        return bytes(data.tobytes())

    return Evidence(annotated=encode(frame), crop=encode(frame[300:620, 500:760]))


def tagged(jpeg: bytes, tag: str) -> bytes:
    """``jpeg`` with a comment segment (COM) carrying ``tag`` after its SOI: a valid JPEG."""
    if not jpeg.startswith(b"\xff\xd8"):
        raise ValueError("not a JPEG (no SOI marker)")
    body = tag.encode("utf-8")
    return jpeg[:2] + b"\xff\xfe" + struct.pack(">H", len(body) + 2) + body + jpeg[2:]


@dataclass
class SimEdge:
    """One simulated edge: its id, chain key and chain head."""

    edge_id: str
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    seq: int = 0
    head: str = GENESIS_HASH

    def public_pem(self) -> str:
        """The public key as ``civicwatch keys register`` takes it."""
        pem = self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return pem.decode("ascii")

    def messages(self, event: ZoneEvent, blobs: list[bytes]) -> list[WireMessage]:
        """Evidence, event and its signed chain record, in the edge's publish order."""
        if event.edge_id != self.edge_id:
            raise ValueError(f"event of edge {event.edge_id}, not {self.edge_id}")
        wire = ZoneEvent.from_json(event.to_json())  # what the server will hash
        record = ChainRecord.model_validate(
            {
                "edge_id": self.edge_id,
                "seq": self.seq + 1,
                "prev_hash": self.head,
                "kind": "event",
                "event_id": event.event_id,
                "phase": event.phase,
                "event_sha256": event_digest(wire),
                "evidence_sha256": [ref.sha256 for ref in event.evidence],
                "recorded_at": event.sent_at,
                "key_id": key_id_of(self.key.public_key()),
            }
        )
        signed = sign_record(record, self.key)
        self.seq, self.head = record.seq, signed.hash
        out = [
            WireMessage(
                topics.evidence_topic(self.edge_id, hashlib.sha256(b).hexdigest()),
                b,
                "image/jpeg",
            )
            for b in blobs
        ]
        out.append(
            WireMessage(
                topics.event_topic(self.edge_id, event.camera_id),
                event.to_json(),
                "application/json",
            )
        )
        out.append(
            WireMessage(
                topics.chain_topic(self.edge_id, record.seq), signed.to_json(), "application/json"
            )
        )
        return out


def make_event(
    *,
    edge_id: str,
    camera_id: str,
    fired_at: datetime,
    blobs: list[tuple[str, bytes]],
    event_id: str | None = None,
    phase: str = "start",
    rule: str = "street_stall",  # one of contracts.events.ViolationType
    dwell_s: float = 30.0,
) -> ZoneEvent:
    """An event fired at ``fired_at`` (its ``last_seen`` and ``sent_at``) with evidence.

    Args:
        blobs: ``(kind, jpeg bytes)`` of each evidence item (``annotated``, ``crop``, ...).
    """
    refs = [
        {
            "sha256": hashlib.sha256(data).hexdigest(),
            "kind": kind,
            "content_type": "image/jpeg",
            "byte_size": len(data),
            "captured_at": fired_at,
        }
        for kind, data in blobs
    ]
    label = {"street_stall": "stall", "muck_truck": "truck", "cross_door": "goods"}.get(
        rule, "barrier"
    )
    return ZoneEvent.model_validate(
        {
            "event_id": event_id or uuid.uuid4().hex,
            "phase": phase,
            "edge_id": edge_id,
            "camera_id": camera_id,
            "zone_id": "zone-a",
            "rule": rule,
            "violation_type": rule,
            "label": label,
            "confidence": 0.9,
            "box": {"x1": 0.39, "y1": 0.42, "x2": 0.59, "y2": 0.86},
            "first_seen": fired_at - timedelta(seconds=dwell_s),
            "last_seen": fired_at,
            "dwell_s": dwell_s,
            "model": {"name": "bench", "version": "1", "sha256": "0" * 64},
            "evidence": refs,
            "sent_at": fired_at,
        }
    )


def register_edges(session_factory: sessionmaker[Session], edges: list[SimEdge]) -> None:
    """Register every edge's public key with the server (``civicwatch keys register``)."""
    with session_factory() as session, session.begin():
        for edge in edges:
            chain_store.register_key(
                session,
                edge_id=edge.edge_id,
                public_key_text=edge.public_pem(),
                now=datetime.now().astimezone(),
            )
