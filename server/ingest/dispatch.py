"""Route one MQTT message to its handler in its own transaction; never raise.

The topic is read with :func:`contracts.topics.parse_edge_topic`; its kind picks the
handler (:data:`server.ingest.handlers.HANDLERS`). Bad input is refused with one log
line naming the edge, the topic and the reason, and counted in :class:`IngestMetrics`;
nothing already accepted is touched.

:func:`dispatch_batch` is the group commit: a batch of messages in one transaction (one
commit, one fsync of the database log for all of them; the evidence files' fsyncs run
together at the end, :meth:`~server.evidence_store.EvidenceStore.deferred_sync`). When
any of them is refused or fails, the batch is rolled back as a whole and the caller
takes its messages one by one through :func:`dispatch`. Every transaction first locks
the edges it touches (:mod:`server.ingest.edge_lock`), so replicas ingest one edge's
messages in turn.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from paho.mqtt.properties import Properties
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from contracts.topics import EdgeTopicKind, TopicError, edge_id_of, parse_edge_topic
from server.evidence_store import EvidenceBackend, EvidenceStore
from server.ingest.edge_lock import lock_edges
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
    topic = message.topic
    handler = HANDLERS.get(message.address.kind)
    if handler is None:
        return _failure(topic, "bad_topic", f"no ingest for {message.address.kind} topics")
    for attempt in (1, 2):
        try:
            with session_factory() as session, session.begin():
                lock_edges(session, [message.address.edge_id])
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
    parsed = _parse(RawMessage(topic=topic, payload=payload, properties=properties))
    if isinstance(parsed, IngestMessage):
        outcome = _run(session_factory, parsed, context=context, now=now)
    else:
        outcome = parsed
    _report(outcome, len(payload), metrics)
    return outcome


@dataclass(frozen=True, slots=True)
class RawMessage:
    """One MQTT message as it arrived: topic, bytes and MQTT v5 properties."""

    topic: str
    payload: bytes
    properties: Properties | None = None


def _parse(raw: RawMessage) -> IngestMessage | IngestOutcome:
    """The message with its topic read, or the ``bad_topic`` rejection."""
    try:
        address = parse_edge_topic(raw.topic)
    except TopicError as exc:
        return _failure(raw.topic, "bad_topic", str(exc))
    return IngestMessage(
        topic=raw.topic,
        address=address,
        payload=raw.payload,
        content_type=content_type_of(raw.properties),
    )


def _report(outcome: IngestOutcome, size: int, metrics: IngestMetrics) -> None:
    """Count ``outcome`` (after its transaction ended) and log a rejection."""
    metrics.record(outcome)
    if outcome.accepted:
        logger.debug("accepted %s: %s", outcome.topic, outcome.detail)
    elif outcome.code not in TRANSIENT_CODES:
        logger.warning(
            "rejected MQTT message from edge %s on %s (%d bytes): %s: %s",
            edge_id_of(outcome.topic) or "?",
            outcome.topic[:200],
            size,
            outcome.code,
            outcome.detail,
        )


def dispatch_batch(
    session_factory: sessionmaker[Session],
    batch: Sequence[RawMessage],
    *,
    context: IngestContext,
    metrics: IngestMetrics,
    now: datetime,
) -> list[IngestOutcome] | None:
    """Ingest ``batch`` in one transaction (a group commit); never raises.

    The edges of the batch are locked first (:func:`lock_edges`); the handlers then run
    in the one session, each seeing what the ones before it wrote: evidence first, then
    chain records, then events, then the rest, each kind in arrival order.

    Returns:
        The outcomes in the batch's order, counted, once the transaction committed; ``None`` when a
        message was refused or a handler failed: then nothing of the batch is kept or
        counted, and the caller takes the messages one by one (:func:`dispatch`), which
        refuses, retries or dead-letters each on its own.
    """
    parsed = [_parse(raw) for raw in batch]
    edges = [item.address.edge_id for item in parsed if isinstance(item, IngestMessage)]
    outcomes: list[IngestOutcome | None] = [None] * len(parsed)
    try:
        with session_factory() as session, session.begin():
            held = _hold_loaded(session)
            lock_edges(session, edges)
            with _batched_fsync(context.store):  # evidence durable before the commit
                for index in sorted(range(len(parsed)), key=lambda i: _batch_rank(parsed[i])):
                    item = parsed[index]
                    if isinstance(item, IngestOutcome):
                        outcomes[index] = item
                        continue
                    handler = HANDLERS.get(item.address.kind)
                    if handler is None:  # refused by the one-by-one path
                        raise IngestRejectedError("bad_topic", f"no ingest for {item.address.kind}")
                    outcomes[index] = handler(session, item, context=context, now=now)
    except IngestRejectedError as exc:
        logger.debug("a batch of %d holds a refused message (%s); one by one", len(batch), exc)
        return None
    except Exception:  # the one-by-one path logs, retries and dead-letters each failure
        logger.warning(
            "group commit of %d messages failed; committing them one by one",
            len(batch),
            exc_info=True,
        )
        return None
    held.clear()
    done = [outcome for outcome in outcomes if outcome is not None]
    for outcome, raw in zip(done, batch, strict=True):
        _report(outcome, len(raw.payload), metrics)
    return done


def _batched_fsync(store: EvidenceBackend) -> AbstractContextManager[None]:
    """The file store's deferred fsyncs for a batch's evidence; nothing for other stores."""
    return store.deferred_sync() if isinstance(store, EvidenceStore) else nullcontext()


def _hold_loaded(session: Session) -> list[object]:
    """Keep what ``session`` loads or inserts referenced until the batch ends.

    The session's identity map holds unchanged rows weakly; held, a ``session.get`` of an
    edge or evidence row that an earlier message of the batch loaded needs no query.
    """
    held: list[object] = []

    def hold(_session: Session, instance: object) -> None:
        held.append(instance)

    event.listen(session, "loaded_as_persistent", hold)
    event.listen(session, "pending_to_persistent", hold)
    return held


_BATCH_ORDER: Final[dict[EdgeTopicKind, int]] = {
    EdgeTopicKind.EVIDENCE: 0,
    EdgeTopicKind.CHAIN: 1,
    EdgeTopicKind.EVENTS: 2,
}
"""The order kinds are stored in within a batch (others after them, each in arrival order)."""


def _batch_rank(item: IngestMessage | IngestOutcome) -> int:
    """Evidence, then chain records, then events: an event whose record came in the same
    batch joins its case at once instead of waiting in the quarantine for it (the edge
    publishes the record after the event). Each kind keeps its arrival order."""
    if isinstance(item, IngestOutcome):
        return len(_BATCH_ORDER)
    return _BATCH_ORDER.get(item.address.kind, len(_BATCH_ORDER))
