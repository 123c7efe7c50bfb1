"""A durable outbox: every MQTT message is written to disk before it is sent.

Messages are kept in an SQLite file (WAL, ``synchronous=FULL``) in the order they were
enqueued; a message is removed only after the broker acknowledged it (PUBACK for QoS 1).
After a restart, whatever is still pending is sent again, oldest first. Delivery is
at-least-once; the server is idempotent on ``event_id`` and evidence hash.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    content_type TEXT NOT NULL,
    qos INTEGER NOT NULL,
    created_at TEXT NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One message waiting for delivery."""

    id: int
    topic: str
    payload: bytes
    content_type: str
    qos: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PendingMessage:
    """A message to enqueue (before it has an id)."""

    topic: str
    payload: bytes
    content_type: str
    qos: int = 1


class Outbox:
    """Durable FIFO of MQTT messages, safe to share between threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute(_SCHEMA)
        self._added = threading.Condition(self._lock)

    def put_many(
        self,
        messages: list[PendingMessage],
        *,
        then: Callable[[sqlite3.Connection], list[PendingMessage]] | None = None,
    ) -> list[int]:
        """Append messages atomically (all or none) and return their ids, in order.

        Args:
            messages: What to append.
            then: Runs inside the same transaction after ``messages`` are written and
                returns more messages to append (the evidence chain writes its records
                this way, so an event and its chain record are stored together or not
                at all); if it raises, nothing is written.
        """
        now = datetime.now(UTC).isoformat()
        ids: list[int] = []
        with self._added:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for msg in messages:
                    ids.append(self._insert(msg, now))
                if then is not None:
                    for msg in then(self._conn):
                        ids.append(self._insert(msg, now))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._added.notify_all()
        return ids

    def _insert(self, msg: PendingMessage, created_at: str) -> int:
        cur = self._conn.execute(
            "INSERT INTO outbox (topic, payload, content_type, qos, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (msg.topic, msg.payload, msg.content_type, msg.qos, created_at),
        )
        return int(cur.lastrowid or 0)

    def pending(self, *, after_id: int = 0, limit: int = 100) -> list[OutboxMessage]:
        """The oldest messages with an id greater than ``after_id``."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, topic, payload, content_type, qos, created_at FROM outbox"
                " WHERE id > ? ORDER BY id LIMIT ?",
                (after_id, limit),
            ).fetchall()
        return [
            OutboxMessage(
                id=row[0],
                topic=row[1],
                payload=bytes(row[2]),
                content_type=row[3],
                qos=row[4],
                created_at=datetime.fromisoformat(row[5]),
            )
            for row in rows
        ]

    def wait_for_new(self, after_id: int, timeout_s: float) -> bool:
        """Block up to ``timeout_s`` until a message with id > ``after_id`` exists."""
        with self._added:
            return self._added.wait_for(lambda: self._max_id_locked() > after_id, timeout_s)

    def _max_id_locked(self) -> int:
        row = self._conn.execute("SELECT COALESCE(MAX(id), 0) FROM outbox").fetchone()
        return int(row[0])

    def ack(self, message_id: int) -> None:
        """Remove a delivered message."""
        with self._lock:
            self._conn.execute("DELETE FROM outbox WHERE id = ?", (message_id,))

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()
