"""Ask edges to re-send what the server is missing: the edges' chains are the truth.

Two things lose messages between an edge and the server after the edge's outbox saw
them acknowledged by the broker: the broker losing the server's persistent session
(a restart without persistence, an expired session, a second client with the server's
client id), and anything that leaves a gap in an edge's chain. :class:`ResendRequester`
turns both into :class:`contracts.resend.ResendRequest` messages on the edges' resend
topics (retained, QoS 1, so an offline edge gets it when it connects):

- :meth:`ResendRequester.session_lost`: every known edge (registered or seen) is asked
  for everything after the newest record the server stores of it;
- :meth:`ResendRequester.gaps`: each open ``gap`` issue asks for the records between the
  newest stored record before it and the record that raised it. A gap is asked for
  again only after ``repeat_s``.

The edge acts on each request once (:func:`edge.resend.resend`); the server's ingest is
idempotent on everything re-sent, and a gap closes when its record arrives.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from contracts.resend import ResendReason, ResendRequest
from contracts.topics import resend_topic
from server.tables import ChainIssue, ChainIssueKind, ChainRecordRow, EdgeKey

logger = logging.getLogger(__name__)

GAP_REPEAT_S: Final[float] = 300.0
"""How long before the same gap is asked for again."""

Publish = Callable[[str, bytes], None]
"""Publishes a retained QoS 1 message on a topic (the ingest's MQTT client)."""


@dataclass(frozen=True, slots=True)
class ResendCounts:
    """What the requester did, for ``/healthz``."""

    sessions_lost: int
    requests: int


class ResendRequester:
    """Builds and publishes resend requests from the server's database.

    Args:
        session_factory: The case database (chain records, issues, edge keys).
        repeat_s: How long before an open gap is asked for again.
        clock: Monotonic seconds (injectable for tests).
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        repeat_s: float = GAP_REPEAT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session_factory = session_factory
        self._repeat_s = repeat_s
        self._clock = clock
        self._asked: dict[tuple[str, int], float] = {}
        self._lock = threading.Lock()
        self._sessions_lost = 0
        self._requests = 0

    def counts(self) -> ResendCounts:
        with self._lock:
            return ResendCounts(sessions_lost=self._sessions_lost, requests=self._requests)

    def known_edges(self) -> dict[str, int]:
        """Every registered or seen edge and the newest record stored of it (0: none)."""
        with self._session_factory() as session:
            newest = {
                str(edge): int(seq or 0)
                for edge, seq in session.execute(
                    select(ChainRecordRow.edge_id, func.max(ChainRecordRow.seq)).group_by(
                        ChainRecordRow.edge_id
                    )
                )
            }
            for edge_id in session.scalars(select(EdgeKey.edge_id).distinct()):
                newest.setdefault(edge_id, 0)
        return newest

    def session_lost(self, publish: Publish, *, now: datetime) -> int:
        """Count a lost session and ask every known edge for what came after its newest record.

        Returns:
            The number of edges asked.
        """
        edges = self.known_edges()
        with self._lock:
            self._sessions_lost += 1
        for edge_id, newest in sorted(edges.items()):
            self._send(publish, edge_id, newest + 1, None, ResendReason.SESSION_LOST, now)
        return len(edges)

    def gaps(self, publish: Publish, *, now: datetime) -> int:
        """Ask for the records missing before each open gap not asked for recently."""
        with self._session_factory() as session:
            issues = [
                (issue.edge_id, issue.seq)
                for issue in session.scalars(
                    select(ChainIssue).where(
                        ChainIssue.kind == ChainIssueKind.GAP, ChainIssue.resolved_at.is_(None)
                    )
                )
            ]
            ranges = []
            for edge_id, seq in issues:
                before = session.scalar(
                    select(func.max(ChainRecordRow.seq)).where(
                        ChainRecordRow.edge_id == edge_id, ChainRecordRow.seq < seq
                    )
                )
                ranges.append((edge_id, int(before or 0) + 1, seq - 1))
        asked = 0
        for edge_id, first, last in ranges:
            if first > last:
                continue
            key = (edge_id, first)
            with self._lock:
                recent = self._asked.get(key)
                if recent is not None and self._clock() - recent < self._repeat_s:
                    continue
                self._asked[key] = self._clock()
            self._send(publish, edge_id, first, last, ResendReason.GAP, now)
            asked += 1
        return asked

    def _send(
        self,
        publish: Publish,
        edge_id: str,
        first: int,
        last: int | None,
        reason: ResendReason,
        now: datetime,
    ) -> None:
        request = ResendRequest(
            request_id=uuid.uuid4().hex,
            edge_id=edge_id,
            from_seq=first,
            to_seq=last,
            reason=reason,
            requested_at=now,
        )
        publish(resend_topic(edge_id), request.to_json())
        with self._lock:
            self._requests += 1
        logger.warning(
            "asked edge %s to re-send chain records %d..%s (%s)",
            edge_id,
            first,
            "end" if last is None else last,
            reason.value,
        )
