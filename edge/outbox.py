"""A durable outbox: every MQTT message is written to disk before it is sent.

Messages are kept in an SQLite file (WAL, ``synchronous=FULL``) in the order they were
enqueued; a message is removed only after the broker acknowledged it (PUBACK for QoS 1).
After a restart, whatever is still pending is sent again, oldest first. Delivery is
at-least-once; the server is idempotent on ``event_id`` and evidence hash.

An acknowledged message moves to the ``sent`` table, kept up to ``keep_sent_bytes``
(oldest pruned first), so the edge can send it again when the server asks
(:meth:`edge.chain.EdgeChain.resend`): the edges' outboxes are the source of truth. A
message the broker can never take moves to the ``dead_letter`` table (kept, never sent)
with the reason; :meth:`edge.chain.EdgeChain.dead_letter` records that in the chain.
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

_SIDE_TABLES = (
    """CREATE TABLE IF NOT EXISTS sent (
    id INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    content_type TEXT NOT NULL,
    qos INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    acked_at TEXT NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS dead_letter (
    id INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    content_type TEXT NOT NULL,
    qos INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    reason TEXT NOT NULL,
    dead_at TEXT NOT NULL
)""",
)

DEFAULT_KEEP_SENT_BYTES = 256 * 1024 * 1024
"""Bytes of acknowledged messages kept for re-sending when the server asks."""

_COLUMNS = "id, topic, payload, content_type, qos, created_at"


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


def _message(row: tuple[int, str, bytes, str, int, str]) -> OutboxMessage:
    return OutboxMessage(
        id=row[0],
        topic=row[1],
        payload=bytes(row[2]),
        content_type=row[3],
        qos=row[4],
        created_at=datetime.fromisoformat(row[5]),
    )


class Outbox:
    """Durable FIFO of MQTT messages, safe to share between threads.

    Args:
        path: The SQLite file (created with its directory).
        keep_sent_bytes: Acknowledged messages kept for re-sending, in payload bytes.
    """

    def __init__(self, path: Path, *, keep_sent_bytes: int = DEFAULT_KEEP_SENT_BYTES) -> None:
        if keep_sent_bytes < 0:
            raise ValueError(f"keep_sent_bytes {keep_sent_bytes} is negative")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.keep_sent_bytes = keep_sent_bytes
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute(_SCHEMA)
        for table in _SIDE_TABLES:
            self._conn.execute(table)
        self._sent_bytes = int(
            self._conn.execute("SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM sent").fetchone()[0]
        )
        self._added = threading.Condition(self._lock)

    def put_many(
        self,
        messages: list[PendingMessage],
        *,
        then: Callable[[sqlite3.Connection, list[int]], list[PendingMessage]] | None = None,
    ) -> list[int]:
        """Append messages atomically (all or none) and return their ids, in order.

        Args:
            messages: What to append.
            then: Runs inside the same transaction after ``messages`` are written, with
                the connection and their ids, and returns more messages to append (the
                evidence chain writes its records this way, so an event and its chain
                record are stored together or not at all); if it raises, nothing is
                written.
        """
        now = datetime.now(UTC).isoformat()
        ids: list[int] = []
        with self._added:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for msg in messages:
                    ids.append(self._insert(msg, now))
                if then is not None:
                    for msg in then(self._conn, list(ids)):
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
                f"SELECT {_COLUMNS} FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
                (after_id, limit),
            ).fetchall()
        return [_message(row) for row in rows]

    def wait_for_new(self, after_id: int, timeout_s: float) -> bool:
        """Block up to ``timeout_s`` until a message with id > ``after_id`` exists."""
        with self._added:
            return self._added.wait_for(lambda: self._max_id_locked() > after_id, timeout_s)

    def _max_id_locked(self) -> int:
        row = self._conn.execute("SELECT COALESCE(MAX(id), 0) FROM outbox").fetchone()
        return int(row[0])

    def ack(self, message_id: int) -> None:
        """Move a delivered message to ``sent`` (kept for re-sending, within the budget)."""
        now = datetime.now(UTC).isoformat()
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                cur = self._conn.execute(
                    f"INSERT OR REPLACE INTO sent ({_COLUMNS}, acked_at)"
                    f" SELECT {_COLUMNS}, ? FROM outbox WHERE id = ?",
                    (now, message_id),
                )
                if cur.rowcount:
                    size = self._conn.execute(
                        "SELECT LENGTH(payload) FROM sent WHERE id = ?", (message_id,)
                    ).fetchone()[0]
                    self._sent_bytes += int(size)
                self._conn.execute("DELETE FROM outbox WHERE id = ?", (message_id,))
                self._prune_sent_locked()
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def _prune_sent_locked(self) -> None:
        """Drop the oldest sent messages while they exceed ``keep_sent_bytes``."""
        while self._sent_bytes > self.keep_sent_bytes:
            rows = self._conn.execute(
                "SELECT id, LENGTH(payload) FROM sent ORDER BY id LIMIT 100"
            ).fetchall()
            if not rows:
                self._sent_bytes = 0
                return
            for row_id, size in rows:
                self._conn.execute("DELETE FROM sent WHERE id = ?", (row_id,))
                self._sent_bytes -= int(size)
                if self._sent_bytes <= self.keep_sent_bytes:
                    return

    def sent(self, message_ids: list[int]) -> list[OutboxMessage]:
        """The kept copies of acknowledged messages among ``message_ids``, oldest first."""
        if not message_ids:
            return []
        marks = ",".join("?" * len(message_ids))
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM sent WHERE id IN ({marks}) ORDER BY id",
                message_ids,
            ).fetchall()
        return [_message(row) for row in rows]

    def move_to_dead_letter(self, conn: sqlite3.Connection, message_id: int, reason: str) -> bool:
        """Inside the caller's transaction on ``conn``: move a pending message aside.

        Returns:
            Whether the message was pending (and is now in ``dead_letter``).
        """
        cur = conn.execute(
            f"INSERT OR REPLACE INTO dead_letter ({_COLUMNS}, reason, dead_at)"
            f" SELECT {_COLUMNS}, ?, ? FROM outbox WHERE id = ?",
            (reason, datetime.now(UTC).isoformat(), message_id),
        )
        conn.execute("DELETE FROM outbox WHERE id = ?", (message_id,))
        return bool(cur.rowcount)

    def dead_letter(self, message_id: int, reason: str) -> bool:
        """Move a pending message aside (no chain record: see ``EdgeChain.dead_letter``)."""
        moved: list[bool] = []

        def work(conn: sqlite3.Connection) -> list[PendingMessage]:
            moved.append(self.move_to_dead_letter(conn, message_id, reason))
            return []

        self.transaction(work)
        return moved[0]

    def dead_letters(self) -> list[tuple[OutboxMessage, str]]:
        """Messages that can never be sent, with the reason, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS}, reason FROM dead_letter ORDER BY id"
            ).fetchall()
        return [(_message(row[:6]), str(row[6])) for row in rows]

    def transaction(self, work: Callable[[sqlite3.Connection], list[PendingMessage]]) -> list[int]:
        """Run ``work`` in one write transaction and append the messages it returns."""
        return self.put_many([], then=lambda conn, _ids: work(conn))

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()
