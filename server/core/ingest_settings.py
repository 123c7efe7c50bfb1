"""The ``ingest:`` settings block: replicas (MQTT 5 shared subscriptions) and group commits."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from contracts.ids import Identifier


class IngestSettings(BaseModel):
    """How the MQTT ingest shares the edges' messages and commits them (:mod:`server.ingest`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    shared_group: Identifier | None = None
    """MQTT 5 shared subscription group: servers with the same group split the edges' events,
    evidence and chain records between them ($share/<group>/...); availability is not shared.
    Every replica needs its own mqtt.client_id (and broker account) and the same PostgreSQL.
    null: this server takes every message (one server).
    """
    batch_max: Annotated[int, Field(ge=1, le=1000)] = 128
    """Most messages committed in one transaction (group commit); 1 commits each alone. A batch
    holds what arrived while the previous one was committed, so an idle server commits at once.
    """
    batch_wait_ms: Annotated[float, Field(ge=0, le=1000)] = 0.0
    """How long the committer waits for more messages after the first of a batch, ms."""
    committers: Annotated[int, Field(ge=1, le=32)] = 2
    """Committer threads, each with its own queue and database connection; an edge's messages
    always go to the same one (in order), so one commits while another waits on the database
    or an fsync. More cores take more replicas (processes), not more committers."""
    queue_max: Annotated[int, Field(ge=1, le=100_000)] = 2000
    """Messages received and waiting for a committer, at most (per committer); beyond, the broker
    keeps the rest (nothing is acknowledged before its commit)."""
