"""Route one MQTT message to its handler in its own transaction; never raise.

The topic is read with :func:`contracts.topics.parse_edge_topic`; its kind picks the
handler (:data:`server.ingest.handlers.HANDLERS`). Bad input is refused with one log
line naming the edge, the topic and the reason, and counted in :class:`IngestMetrics`;
nothing already accepted is touched.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Final

from paho.mqtt.properties import Properties
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from contracts.topics import TopicError, edge_id_of, parse_edge_topic
from server.ingest.handlers import HANDLERS, IngestContext, IngestMessage
from server.ingest.results import IngestMetrics, IngestOutcome, IngestRejectedError

logger = logging.getLogger(__name__)

TRANSIENT_CODES: Final[frozenset[str]] = frozenset(
    {"db_unavailable", "internal_error", "db_conflict"}
)
"""Outcomes that say nothing about the message itself: it is retried, not acknowledged."""


def content_type_of(properties: Properties | None) -> str | None:
    """The MQTT v5 ``ContentType`` property, ``None`` when absent or empty."""
    value = getattr(properties, "ContentType", None) if properties is not None else None
    return value if isinstance(value, str) and value else None


def _failure(topic: str, code: str, detail: str) -> IngestOutcome:
    return IngestOutcome(topic=topic, accepted=False, code=code, detail=detail)


def _run(
    session_factory: sessionmaker[Session],
    message: IngestMessage,
    *,
    context: IngestContext,
    now: datetime,
) -> IngestOutcome:
    """Run the handler in a transaction; a unique-key race is retried once."""
    handler = HANDLERS[message.address.kind]
    topic = message.topic
    for attempt in (1, 2):
        try:
            with session_factory() as session, session.begin():
                return handler(session, message, context=context, now=now)
        except IngestRejectedError as exc:
            return _failure(topic, exc.code, exc.reason)
        except IntegrityError:
            if attempt == 2:
                logger.exception("ingest of %s failed twice on a unique key", topic[:200])
        except OperationalError:
            logger.exception("database unavailable while ingesting %s", topic[:200])
            return _failure(topic, "db_unavailable", "database error; see the log")
        except Exception:
            logger.exception("unexpected error while ingesting %s", topic[:200])
            return _failure(topic, "internal_error", "unexpected error; see the log")
    return _failure(topic, "db_conflict", "unique-key conflict on retry")


def dispatch(
    session_factory: sessionmaker[Session],
    topic: str,
    payload: bytes,
    properties: Properties | None,
    *,
    context: IngestContext,
    metrics: IngestMetrics,
    now: datetime,
) -> IngestOutcome:
    """Route one message to its handler in its own transaction; never raises.

    A rejection rolls back only this message's transaction and logs one line naming the
    edge, the topic and the reason. A unique-key race (another writer inserted the same
    case or evidence meanwhile) is retried once.

    Args:
        session_factory: Where the message's transaction is opened.
        topic: The topic it arrived on.
        payload: Its bytes.
        properties: Its MQTT v5 properties (``None`` for MQTT 3.1.1).
        context: Evidence store and limits.
        metrics: Counted here, accepted or not.
        now: The receive time stored with what is accepted.

    Returns:
        What became of it; ``TRANSIENT_CODES`` say nothing about the message itself.
    """
    try:
        address = parse_edge_topic(topic)
    except TopicError as exc:
        outcome = _failure(topic, "bad_topic", str(exc))
    else:
        message = IngestMessage(
            topic=topic, address=address, payload=payload, content_type=content_type_of(properties)
        )
        outcome = _run(session_factory, message, context=context, now=now)
    metrics.record(outcome)
    if outcome.accepted:
        logger.debug("accepted %s: %s", topic, outcome.detail)
    elif outcome.code not in TRANSIENT_CODES:
        logger.warning(
            "rejected MQTT message from edge %s on %s (%d bytes): %s: %s",
            edge_id_of(topic) or "?",
            topic[:200],
            len(payload),
            outcome.code,
            outcome.detail,
        )
    return outcome
