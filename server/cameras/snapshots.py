"""Snapshots of cameras: asked for over the control topic, stored by sha256 as evidence.

The edge answers a :class:`contracts.control.SnapshotRequest` (and sends one every few
minutes unasked) with a :class:`contracts.control.SnapshotMessage`: a JPEG whose hash is
checked before its bytes go to the evidence store (as an ``evidence`` row with the edge's
id) and a ``camera_snapshots`` row points at it. Each camera keeps its newest
:data:`KEEP_PER_CAMERA` snapshot rows plus every one a zone version was drawn on.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from contracts.control import MAX_SNAPSHOT_JPEG_BYTES, SnapshotMessage
from server import crud
from server.cameras.tables import CameraSettings, CameraSnapshot, ZoneVersion
from server.evidence_store import EvidenceBackend
from server.org.tables import Camera

KEEP_PER_CAMERA = 20
"""Snapshot rows kept per camera besides the ones zone versions refer to."""

SNAPSHOT_CONTENT_TYPE = "image/jpeg"

SnapshotState = Literal["none", "waiting", "ready", "timed_out"]
"""What the editor tells the operator about the snapshot (:func:`snapshot_status`)."""


class SnapshotError(ValueError):
    """A snapshot message that cannot be stored; the message says why."""


def decode_snapshot(message: SnapshotMessage) -> bytes:
    """The JPEG bytes of ``message``, checked against its sha256 and the JPEG signature.

    Raises:
        SnapshotError: Not base64, too large, not a JPEG or a hash mismatch.
    """
    try:
        data = base64.b64decode(message.jpeg_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SnapshotError(f"jpeg_base64 is not base64: {exc}") from None
    if len(data) > MAX_SNAPSHOT_JPEG_BYTES:
        raise SnapshotError(f"snapshot of {len(data)} bytes is over {MAX_SNAPSHOT_JPEG_BYTES}")
    if not data.startswith(b"\xff\xd8\xff"):
        raise SnapshotError("snapshot bytes are not a JPEG")
    actual = hashlib.sha256(data).hexdigest()
    if actual != message.sha256:
        raise SnapshotError(f"snapshot bytes hash to {actual}, not {message.sha256}")
    return data


def store_snapshot(
    session: Session, store: EvidenceBackend, message: SnapshotMessage, *, now: datetime
) -> CameraSnapshot | None:
    """Store a snapshot of a registered camera (``None``: the camera is not registered).

    Raises:
        SnapshotError: The message's bytes are unusable.
    """
    camera = session.scalars(
        select(Camera).where(
            Camera.edge_id == message.edge_id, Camera.camera_id == message.camera_id
        )
    ).first()
    if camera is None:
        return None
    data = decode_snapshot(message)
    if not store.exists(message.sha256):
        store.write(message.sha256, data)
    crud.add_evidence(
        session,
        sha256=message.sha256,
        content_type=SNAPSHOT_CONTENT_TYPE,
        byte_size=len(data),
        edge_id=message.edge_id,
        received_at=now,
    )
    row = CameraSnapshot(
        camera_pk=camera.id,
        sha256=message.sha256,
        width=message.width,
        height=message.height,
        captured_at=message.captured_at,
        received_at=now,
        request_id=message.request_id,
    )
    session.add(row)
    session.flush()
    _trim(session, camera_pk=camera.id)
    return row


def _trim(session: Session, *, camera_pk: int) -> None:
    kept = select(CameraSnapshot.id).where(CameraSnapshot.camera_pk == camera_pk)
    newest = list(session.scalars(kept.order_by(CameraSnapshot.id.desc()).limit(KEEP_PER_CAMERA)))
    references = select(ZoneVersion.reference_sha256).where(
        ZoneVersion.camera_pk == camera_pk, ZoneVersion.reference_sha256.is_not(None)
    )
    session.execute(
        delete(CameraSnapshot).where(
            CameraSnapshot.camera_pk == camera_pk,
            CameraSnapshot.id.not_in(newest),
            CameraSnapshot.sha256.not_in(references),
        )
    )


def latest_snapshot(session: Session, *, camera_pk: int) -> CameraSnapshot | None:
    return session.scalars(
        select(CameraSnapshot)
        .where(CameraSnapshot.camera_pk == camera_pk)
        .order_by(CameraSnapshot.id.desc())
        .limit(1)
    ).first()


def snapshot_of(session: Session, *, camera_pk: int, sha256: str) -> CameraSnapshot | None:
    """The camera's snapshot with ``sha256`` (``None``: not one of its snapshots)."""
    return session.scalars(
        select(CameraSnapshot).where(
            CameraSnapshot.camera_pk == camera_pk, CameraSnapshot.sha256 == sha256
        )
    ).first()


def snapshot_status(
    snapshot: CameraSnapshot | None,
    requested_at: datetime | None,
    *,
    now: datetime,
    timeout_s: float,
) -> SnapshotState:
    """``none``, ``waiting``, ``ready`` or ``timed_out``: what the editor tells the operator.

    ``ready`` means the newest snapshot came after the last request (or nothing was asked).
    """
    if requested_at is None or (snapshot is not None and snapshot.received_at >= requested_at):
        return "ready" if snapshot is not None else "none"
    if now - requested_at > timedelta(seconds=timeout_s):
        return "timed_out"
    return "waiting"


def mark_requested(settings: CameraSettings, *, now: datetime) -> None:
    settings.snapshot_requested_at = now
