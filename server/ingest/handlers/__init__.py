"""One handler per kind of edge message, and the table that routes a kind to its handler.

A handler is a plain function of ``(session, message, *, context, now)`` (see
:class:`~server.ingest.handlers.base.Handler`), so it is tested without a broker; the
caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from contracts.topics import EdgeTopicKind
from server.ingest.handlers.availability import handle_availability
from server.ingest.handlers.base import Handler, IngestContext, IngestLimits, IngestMessage
from server.ingest.handlers.chain import MAX_CHAIN_RECORD_BYTES, handle_chain
from server.ingest.handlers.events import handle_event
from server.ingest.handlers.evidence import EVIDENCE_CONTENT_TYPES, handle_evidence
from server.ingest.handlers.health import handle_health, handle_status
from server.ingest.handlers.snapshot import handle_snapshot

HANDLERS: Final[Mapping[EdgeTopicKind, Handler]] = MappingProxyType(
    {
        EdgeTopicKind.EVENTS: handle_event,
        EdgeTopicKind.EVIDENCE: handle_evidence,
        EdgeTopicKind.CHAIN: handle_chain,
        EdgeTopicKind.AVAILABILITY: handle_availability,
        EdgeTopicKind.STATUS: handle_status,
        EdgeTopicKind.HEALTH: handle_health,
        EdgeTopicKind.SNAPSHOT: handle_snapshot,
    }
)
"""The handler of each kind of edge topic."""

__all__ = [
    "EVIDENCE_CONTENT_TYPES",
    "HANDLERS",
    "MAX_CHAIN_RECORD_BYTES",
    "Handler",
    "IngestContext",
    "IngestLimits",
    "IngestMessage",
    "handle_availability",
    "handle_chain",
    "handle_event",
    "handle_evidence",
]
