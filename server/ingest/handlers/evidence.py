"""Evidence bytes (``.../edges/{edge}/evidence/{sha256}``): check the hash and store them."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime
from typing import Final, get_args

from sqlalchemy.orm import Session

from contracts.events import EvidenceRef
from server import crud
from server.evidence_store import EvidenceHashMismatchError, check_sha256
from server.ingest.handlers.base import IngestContext, IngestMessage
from server.ingest.handlers.image_size import ImageHeaderError, image_size_wh
from server.ingest.results import IngestOutcome, IngestRejectedError

logger = logging.getLogger(__name__)

EVIDENCE_CONTENT_TYPES: Final[frozenset[str]] = frozenset(
    get_args(EvidenceRef.model_fields["content_type"].annotation)
)
"""Content types an evidence payload may declare (those the wire contract allows)."""

_MAGIC: Final[dict[str, tuple[bytes, ...]]] = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
}


def _check_magic(content_type: str, payload: bytes) -> None:
    magics = _MAGIC.get(content_type)
    if magics is not None and not payload.startswith(magics):
        raise IngestRejectedError("content_mismatch", f"payload does not start like {content_type}")
    if content_type == "application/json":
        try:
            json.loads(payload)
        except ValueError as exc:
            raise IngestRejectedError(
                "content_mismatch", "payload declared application/json is not valid JSON"
            ) from exc


def _sniff(payload: bytes) -> str | None:
    """The content type the bytes themselves show (for MQTT 3.1.1, which has no property)."""
    for content_type, magics in _MAGIC.items():
        if payload.startswith(magics):
            return content_type
    if payload[:1] in (b"{", b"["):
        try:
            json.loads(payload)
        except ValueError:
            return None
        return "application/json"
    return None


def _checked_payload(message: IngestMessage, context: IngestContext) -> bytes:
    """The payload, once its size and hash agree with the topic."""
    sha256, payload = message.address.key, message.payload
    try:
        check_sha256(sha256)
    except ValueError as exc:
        raise IngestRejectedError("bad_topic", str(exc)) from exc
    if not payload:
        raise IngestRejectedError("empty_payload", "evidence payload is empty")
    if len(payload) > context.limits.max_evidence_bytes:
        raise IngestRejectedError(
            "too_large",
            f"{len(payload)} bytes exceeds max_evidence_bytes {context.limits.max_evidence_bytes}",
        )
    actual = hashlib.sha256(payload).hexdigest()
    if actual != sha256:
        raise IngestRejectedError(
            "hash_mismatch", f"payload hashes to {actual}, topic says {sha256}"
        )
    return payload


def _content_type(message: IngestMessage, declared: set[str]) -> str:
    """The property, else what the referencing events declare, else the bytes' signature."""
    content_type = message.content_type
    if content_type is None:
        content_type = declared.pop() if len(declared) == 1 else _sniff(message.payload)
        if content_type is None:
            raise IngestRejectedError(
                "no_content_type",
                "no MQTT ContentType property, no event names its type, and the bytes are "
                "not JPEG, PNG or JSON",
            )
    if content_type not in EVIDENCE_CONTENT_TYPES:
        raise IngestRejectedError(
            "bad_content_type",
            f"content type {content_type[:64]!r} is not one of {sorted(EVIDENCE_CONTENT_TYPES)}",
        )
    _check_magic(content_type, message.payload)
    return content_type


def _check_pixels(content_type: str, payload: bytes, context: IngestContext) -> None:
    """Refuse an image whose header declares more pixels than a reviewer's browser should take."""
    limits = context.limits
    try:
        size = image_size_wh(content_type, payload)
    except ImageHeaderError as exc:
        raise IngestRejectedError("bad_image", f"{content_type}: {exc}") from exc
    if size is None:
        return
    width, height = size
    if (
        width < 1
        or height < 1
        or max(width, height) > limits.max_evidence_side_px
        or width * height > limits.max_evidence_pixels
    ):
        raise IngestRejectedError(
            "too_many_pixels",
            f"{content_type} of {width}x{height} px exceeds max_evidence_side_px "
            f"{limits.max_evidence_side_px} / max_evidence_pixels {limits.max_evidence_pixels}",
        )


def handle_evidence(
    session: Session, message: IngestMessage, *, context: IngestContext, now: datetime
) -> IngestOutcome:
    """Check evidence bytes against the hash in their topic and store them.

    The content type comes from the MQTT v5 ``ContentType`` property; when absent (MQTT
    3.1.1), from an event that already references the hash, else from the bytes' signature.

    Raises:
        IngestRejectedError: Bad hash in the topic, empty or oversized payload, hash
            mismatch, missing or unsupported content type, bytes that are not what
            they claim, or an image larger than the pixel limits.
    """
    edge_id, sha256 = message.address.edge_id, message.address.key
    payload = _checked_payload(message, context)
    refs = crud.evidence_references(session, sha256=sha256)
    content_type = _content_type(message, {ref.content_type for ref in refs})
    _check_pixels(content_type, payload, context)
    for ref in refs:
        if ref.content_type != content_type or ref.byte_size != len(payload):
            logger.warning(
                "evidence %s from edge %s is %s, %d bytes; case %d described it as %s, %d "
                "bytes (the bytes match the hash and are kept)",
                sha256,
                edge_id,
                content_type,
                len(payload),
                ref.case_id,
                ref.content_type,
                ref.byte_size,
            )
    try:
        context.store.write(sha256, payload)
    except EvidenceHashMismatchError as exc:  # pragma: no cover - checked above
        raise IngestRejectedError("hash_mismatch", str(exc)) from exc
    created = crud.add_evidence(
        session,
        sha256=sha256,
        content_type=content_type,
        byte_size=len(payload),
        edge_id=edge_id,
        received_at=now,
    )
    crud.touch_edge(session, edge_id=edge_id, at=now)
    cases = sorted({ref.case_id for ref in refs})
    return IngestOutcome(
        topic=message.topic,
        accepted=True,
        code="evidence" if created else "evidence_duplicate",
        detail=f"{len(payload)} bytes {content_type}; referenced by case(s) {cases}",
    )
