"""Camera snapshots (``.../edges/{edge}/snapshot/{camera}``): a JPEG for the zone editor.

The :class:`contracts.control.SnapshotMessage`'s bytes are checked against their sha256 and
stored in the evidence store (:mod:`server.cameras.snapshots`); a snapshot of a camera that
is not registered is skipped.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import ValidationError
from sqlalchemy.orm import Session

from contracts.control import ControlMessageError, SnapshotMessage
from server.cameras.snapshots import SnapshotError, store_snapshot
from server.ingest.handlers.base import IngestContext, IngestMessage, validation_rejection
from server.ingest.results import IngestOutcome, IngestRejectedError


def handle_snapshot(
    session: Session, message: IngestMessage, *, context: IngestContext, now: datetime
) -> IngestOutcome:
    """Store a camera's snapshot.

    Raises:
        IngestRejectedError: Not a valid snapshot message, bytes that do not match their
            hash, or a message whose edge or camera differ from its topic's.
    """
    try:
        snapshot = SnapshotMessage.from_json(message.payload)
    except ValidationError as exc:
        raise validation_rejection(exc, "bad_snapshot") from None
    except ControlMessageError as exc:
        raise IngestRejectedError("bad_snapshot", str(exc)) from None
    address = message.address
    if (snapshot.edge_id, snapshot.camera_id) != (address.edge_id, address.key):
        raise IngestRejectedError(
            "edge_mismatch",
            f"snapshot of {snapshot.edge_id}/{snapshot.camera_id} came on the topic of "
            f"{address.edge_id}/{address.key}",
        )
    try:
        row = store_snapshot(session, context.store, snapshot, now=now)
    except SnapshotError as exc:
        raise IngestRejectedError("bad_snapshot", str(exc)) from None
    detail = "camera not registered" if row is None else f"stored {snapshot.sha256}"
    return IngestOutcome(topic=message.topic, accepted=True, code="snapshot", detail=detail)
