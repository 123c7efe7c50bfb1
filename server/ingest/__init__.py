"""MQTT ingest: edge events, evidence bytes, chain records and availability into the database.

One module per job:

- :mod:`server.ingest.handlers`: one handler per message kind (events, evidence, chain,
  availability), plain functions tested without a broker;
- :mod:`server.ingest.dispatch`: reads the topic with :mod:`contracts.topics`, routes the
  message to its handler in its own transaction, never raises;
- :mod:`server.ingest.dead_letter`: where a message that keeps failing is kept;
- :mod:`server.ingest.committer`: group commits, bounded queues drained by committer
  threads (an edge always on the same one);
- :mod:`server.ingest.edge_lock`: the per-edge PostgreSQL advisory lock every ingest
  transaction takes, so replicas ingest one edge's messages in turn;
- :mod:`server.ingest.client`: the paho-mqtt client (from :func:`contracts.mqtt.create_client`)
  with a persistent session, manual acknowledgement after commit and, for replicas, MQTT 5
  shared subscriptions.

Bad input (a wrong topic shape, an oversized payload, broken JSON, a schema violation,
an evidence hash that does not match its topic, a chain record that does not verify) is
refused with one log line naming the edge, the topic and the reason, and counted in
:class:`IngestMetrics`; nothing already accepted is touched. Every handler is idempotent
(event messages by payload hash under ``event_id``, evidence by hash, chain records by
edge, sequence and hash), so a redelivery changes nothing.
"""

from __future__ import annotations

from server.ingest.client import (
    DEFAULT_CLIENT_ID,
    DEFAULT_SESSION_EXPIRY_S,
    UNEXPECTED_ATTEMPTS,
    MqttIngest,
    MqttStatus,
)
from server.ingest.dead_letter import write_dead_letter
from server.ingest.dispatch import TRANSIENT_CODES, dispatch
from server.ingest.handlers import (
    EVIDENCE_CONTENT_TYPES,
    MAX_CHAIN_RECORD_BYTES,
    IngestContext,
    IngestLimits,
    IngestMessage,
    handle_availability,
    handle_chain,
    handle_event,
    handle_evidence,
)
from server.ingest.results import IngestCounts, IngestMetrics, IngestOutcome, IngestRejectedError

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_SESSION_EXPIRY_S",
    "EVIDENCE_CONTENT_TYPES",
    "MAX_CHAIN_RECORD_BYTES",
    "TRANSIENT_CODES",
    "UNEXPECTED_ATTEMPTS",
    "IngestContext",
    "IngestCounts",
    "IngestLimits",
    "IngestMessage",
    "IngestMetrics",
    "IngestOutcome",
    "IngestRejectedError",
    "MqttIngest",
    "MqttStatus",
    "dispatch",
    "handle_availability",
    "handle_chain",
    "handle_event",
    "handle_evidence",
    "write_dead_letter",
]
