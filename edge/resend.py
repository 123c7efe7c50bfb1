"""The edge's answer to the server's :class:`contracts.resend.ResendRequest`.

The server asks when it finds a gap in the edge's chain or when the broker lost its
session (and the messages queued in it). :func:`resend` queues again, in their original
order, the evidence and event messages enqueued with the records asked for (the copies
the outbox keeps after sending, :meth:`edge.outbox.Outbox.sent`) and then the signed
records themselves. Nothing new is signed: the server is idempotent on every one of
them. A request is acted on once (its ``request_id`` is remembered in the outbox file),
so the retained request does not repeat the work on every reconnect.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

from contracts.resend import ResendRequest
from edge.chain import EdgeChain
from edge.outbox import PendingMessage

logger = logging.getLogger(__name__)

MAX_RECORDS_PER_REQUEST: Final[int] = 100_000
"""The most records one request re-sends (the rest wait for the next request)."""


@dataclass(frozen=True, slots=True)
class ResendResult:
    """What one request re-queued.

    Attributes:
        request_id: The request.
        records: Signed records queued again.
        messages: Evidence and event messages queued again.
        not_kept: Records in the range the edge no longer keeps (pruned or never made).
    """

    request_id: str
    records: int
    messages: int
    not_kept: int


def resend(chain: EdgeChain, request: ResendRequest) -> ResendResult | None:
    """Queue again what ``request`` asks for; ``None`` when it was handled before.

    Raises:
        ValueError: The request is for another edge.
    """
    if request.edge_id != chain.edge_id:
        raise ValueError(f"resend request {request.request_id} is for edge {request.edge_id!r}")
    if not chain.mark_handled(request.request_id):
        logger.info("edge %s: resend request %s already handled", chain.edge_id, request.request_id)
        return None
    head = chain.head().seq
    last = head if request.to_seq is None else min(request.to_seq, head)
    wanted = max(last - request.from_seq + 1, 0)
    records = chain.records(
        after_seq=request.from_seq - 1, limit=min(wanted, MAX_RECORDS_PER_REQUEST)
    )
    messages = [
        PendingMessage(m.topic, m.payload, m.content_type, m.qos)
        for m in chain.outbox.sent(chain.linked_outbox_ids(request.from_seq, last))
    ]
    if records or messages:
        chain.outbox.put_many(messages + [chain.record_message(r) for r in records])
    result = ResendResult(
        request_id=request.request_id,
        records=len(records),
        messages=len(messages),
        not_kept=wanted - len(records),
    )
    logger.warning(
        "edge %s: server asked (%s) for records %d..%s; queued %d record(s) and %d message(s) "
        "again%s",
        chain.edge_id,
        request.reason.value,
        request.from_seq,
        request.to_seq if request.to_seq is not None else "end",
        result.records,
        result.messages,
        f"; {result.not_kept} record(s) no longer kept" if result.not_kept else "",
    )
    return result
