"""Camera health (``.../edges/{edge}/health``) and config status (``.../edges/{edge}/status``).

Health: one :class:`contracts.health.EdgeHealth` every few seconds; a sample per registered
camera is stored (:mod:`server.cameras.health_store`), cameras not in the registry are
skipped. Status: the edge's :class:`contracts.control.ConfigStatus` after each config it
receives (the version it runs per camera, or why it refused one), stored for the editor's
"applied on the edge".
"""

from __future__ import annotations

from datetime import datetime

from pydantic import ValidationError
from sqlalchemy.orm import Session

from contracts.control import ConfigStatus, ControlMessageError
from contracts.health import EdgeHealth
from server.cameras.edge_config import record_status
from server.cameras.health_store import record_health
from server.ingest.handlers.base import IngestContext, IngestMessage, validation_rejection
from server.ingest.results import IngestOutcome, IngestRejectedError


def _same_edge(message: IngestMessage, edge_id: str, what: str) -> None:
    if edge_id != message.address.edge_id:
        raise IngestRejectedError(
            "edge_mismatch",
            f"{what} names edge {edge_id!r} but came on edge {message.address.edge_id!r}'s topic",
        )


def handle_health(
    session: Session, message: IngestMessage, *, context: IngestContext, now: datetime
) -> IngestOutcome:
    """Store a health sample of each registered camera of the edge.

    Raises:
        IngestRejectedError: Not a valid sample, too large, or another edge's.
    """
    del context
    try:
        health = EdgeHealth.from_json(message.payload)
    except ValidationError as exc:
        raise validation_rejection(exc, "bad_health") from None
    except ValueError as exc:
        raise IngestRejectedError("bad_health", str(exc)) from None
    _same_edge(message, health.edge_id, "health sample")
    stored = record_health(session, health, now=now)
    return IngestOutcome(
        topic=message.topic,
        accepted=True,
        code="health",
        detail=f"{stored} of {len(health.cameras)} camera(s) registered",
    )


def handle_status(
    session: Session, message: IngestMessage, *, context: IngestContext, now: datetime
) -> IngestOutcome:
    """Store what the edge runs (or why it refused a config).

    Raises:
        IngestRejectedError: Not a valid status, or another edge's.
    """
    del context
    try:
        status = ConfigStatus.from_json(message.payload)
    except ValidationError as exc:
        raise validation_rejection(exc, "bad_status") from None
    except ControlMessageError as exc:
        raise IngestRejectedError("bad_status", str(exc)) from None
    _same_edge(message, status.edge_id, "config status")
    cameras = record_status(session, status, now=now)
    return IngestOutcome(
        topic=message.topic,
        accepted=True,
        code="status",
        detail=f"config {status.received_version} {status.state.value}; "
        f"running {status.running_version} ({cameras} camera(s))",
    )
