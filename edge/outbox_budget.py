"""A disk budget for the outbox: what happens when the edge cannot send for a long time.

Policy (stated once, applied on every enqueue of the evidence chain):

1. The budget counts the bytes of every message still in the outbox (payloads of
   events, evidence and chain records not yet acknowledged by the broker).
2. When the total reaches ``warn_fraction`` of ``max_bytes`` a WARNING names the usage
   and says that the oldest evidence will be dropped at the limit; it is repeated only
   after usage fell below that level again.
3. When the total exceeds ``max_bytes``, the oldest *evidence* messages (images, JSON
   series) are removed, oldest first, until the total is at or below
   ``low_water_fraction`` of ``max_bytes``. If the warning of step 2 was not given yet
   (a single burst jumped past both levels) it is given first. Every dropped item is
   logged with its sha256 and recorded in the evidence chain by a ``drop`` record, so
   the chain still verifies and the missing file is explained.
4. Events and chain records are never dropped: they are small, and without them a case
   or the chain itself would be lost. If they alone exceed the budget, an ERROR says so
   and they are kept.

The count is of payload bytes; SQLite reuses freed pages but does not shrink its file,
so the file on disk can stay at its high-water mark.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts import topics

logger = logging.getLogger(__name__)

MIB = 1024 * 1024


class OutboxBudgetConfig(BaseModel):
    """How much disk the outbox may use before the oldest evidence is dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_bytes: int = Field(
        2048 * MIB,
        ge=1 * MIB,
        le=1024 * 1024 * MIB,
        description="Most payload bytes kept unsent; above it the oldest evidence is dropped.",
    )
    warn_fraction: float = Field(
        0.8,
        gt=0.0,
        lt=1.0,
        description="Share of max_bytes at which a warning announces the coming drops.",
    )
    low_water_fraction: float = Field(
        0.9,
        gt=0.0,
        le=1.0,
        description="Dropping stops once usage is at or below this share of max_bytes.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> OutboxBudgetConfig:
        if self.low_water_fraction < self.warn_fraction:
            raise ValueError("low_water_fraction must not be below warn_fraction")
        return self

    @property
    def warn_bytes(self) -> int:
        return int(self.max_bytes * self.warn_fraction)

    @property
    def low_water_bytes(self) -> int:
        return int(self.max_bytes * self.low_water_fraction)


@dataclass(frozen=True, slots=True)
class EvidenceCandidate:
    """An evidence message in the outbox that may be dropped.

    Attributes:
        outbox_id: Its outbox row (older rows have smaller ids).
        sha256: The evidence hash (the last topic segment).
        byte_size: Payload bytes.
    """

    outbox_id: int
    sha256: str
    byte_size: int


def select_drops(
    candidates: Sequence[EvidenceCandidate], usage_bytes: int, config: OutboxBudgetConfig
) -> list[EvidenceCandidate]:
    """Which evidence to drop so usage falls to the low-water mark (pure; oldest first).

    Args:
        candidates: Evidence messages, any order.
        usage_bytes: Current payload bytes of the whole outbox.
        config: The budget.

    Returns:
        Nothing while usage is within ``max_bytes``; otherwise the oldest candidates
        whose removal brings usage to ``low_water_bytes`` (all of them if that is not
        enough).
    """
    if usage_bytes <= config.max_bytes:
        return []
    chosen: list[EvidenceCandidate] = []
    for candidate in sorted(candidates, key=lambda c: c.outbox_id):
        if usage_bytes <= config.low_water_bytes:
            break
        chosen.append(candidate)
        usage_bytes -= candidate.byte_size
    return chosen


class OutboxBudget:
    """Applies :class:`OutboxBudgetConfig` to an outbox's SQLite connection.

    :meth:`enforce` runs inside the outbox's write transaction (see
    :meth:`edge.chain.EdgeChain.enqueue`), so removing messages and recording the drop
    in the chain happen together or not at all.

    Args:
        config: The budget.
        edge_id: Whose evidence topics to consider.
    """

    def __init__(self, config: OutboxBudgetConfig, *, edge_id: str) -> None:
        self.config = config
        self.edge_id = edge_id
        self._evidence_prefix = f"{topics.edge_root(edge_id)}/evidence/"
        self._warned = False

    @staticmethod
    def usage(conn: sqlite3.Connection) -> int:
        """Payload bytes of every message in the outbox."""
        row = conn.execute("SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM outbox").fetchone()
        return int(row[0])

    def _candidates(self, conn: sqlite3.Connection) -> list[EvidenceCandidate]:
        prefix = self._evidence_prefix
        rows = conn.execute(
            "SELECT id, topic, LENGTH(payload) FROM outbox WHERE substr(topic, 1, ?) = ?"
            " ORDER BY id",
            (len(prefix), prefix),
        ).fetchall()
        return [
            EvidenceCandidate(outbox_id=int(r[0]), sha256=str(r[1])[len(prefix) :], byte_size=r[2])
            for r in rows
        ]

    def _warn(self, usage: int) -> None:
        logger.warning(
            "edge %s: outbox holds %.1f MiB unsent, %.0f %% of its %.1f MiB budget; at the "
            "budget the oldest evidence images are dropped (events and chain records are kept)",
            self.edge_id,
            usage / MIB,
            100 * usage / self.config.max_bytes,
            self.config.max_bytes / MIB,
        )
        self._warned = True

    def enforce(self, conn: sqlite3.Connection) -> list[EvidenceCandidate]:
        """Warn or drop as the policy says; returns what was removed from the outbox.

        Must be called inside the outbox's write transaction on its connection.
        """
        usage = self.usage(conn)
        if usage < self.config.warn_bytes:
            self._warned = False
            return []
        if not self._warned:
            self._warn(usage)
        if usage <= self.config.max_bytes:
            return []
        drops = select_drops(self._candidates(conn), usage, self.config)
        for drop in drops:
            conn.execute("DELETE FROM outbox WHERE id = ?", (drop.outbox_id,))
            logger.warning(
                "edge %s: outbox over budget: dropped unsent evidence %s (%d bytes, outbox "
                "message %d); the evidence chain records the drop",
                self.edge_id,
                drop.sha256,
                drop.byte_size,
                drop.outbox_id,
            )
        remaining = usage - sum(drop.byte_size for drop in drops)
        if remaining > self.config.max_bytes:
            logger.error(
                "edge %s: outbox still holds %.1f MiB over its %.1f MiB budget in events and "
                "chain records, which are never dropped; free disk or restore the connection",
                self.edge_id,
                remaining / MIB,
                self.config.max_bytes / MIB,
            )
        return drops
