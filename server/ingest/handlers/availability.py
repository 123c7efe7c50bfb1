"""Edge availability (``.../edges/{edge}/availability``): retained ``online`` / ``offline``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from server import crud
from server.ingest.handlers.base import IngestContext, IngestMessage
from server.ingest.results import IngestOutcome, IngestRejectedError
from server.tables import EdgeAvailability


def handle_availability(
    session: Session, message: IngestMessage, *, context: IngestContext, now: datetime
) -> IngestOutcome:
    """Record an edge's retained ``online`` / last-will ``offline``.

    Raises:
        IngestRejectedError: A payload other than the two words.
    """
    del context
    text = message.payload.decode("utf-8", errors="replace").strip()
    try:
        availability = EdgeAvailability(text)
    except ValueError as exc:
        raise IngestRejectedError(
            "bad_availability", f"payload {text[:32]!r} is not 'online' or 'offline'"
        ) from exc
    crud.set_edge_availability(
        session, edge_id=message.address.edge_id, availability=availability, at=now
    )
    return IngestOutcome(topic=message.topic, accepted=True, code="availability", detail=text)
