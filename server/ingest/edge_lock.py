"""One edge's messages are ingested by one transaction at a time, across replicas.

Replicas share the ingest through an MQTT 5 shared subscription, which hands an edge's
event to one replica and its chain record to another. Without a lock both transactions
could look for the other's row before either committed: the event would wait in the
quarantine for a record that is already stored, and two records could each miss the
link to the other. On PostgreSQL every ingest transaction therefore first takes a
transaction-level advisory lock per edge it touches (``pg_advisory_xact_lock``), in one
global order (the keys sorted), so two replicas never deadlock on each other; a statement
after the lock sees everything the previous holder committed. SQLite serialises writers
itself and runs one server only: there the lock is nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Final

from sqlalchemy import text
from sqlalchemy.orm import Session

_NAMESPACE: Final[bytes] = b"civicwatch-ingest-edge:"

_LOCK_SQL: Final = text(
    "SELECT count(pg_advisory_xact_lock(k)) FROM "
    "(SELECT unnest(CAST(:keys AS bigint[])) AS k ORDER BY k) AS ordered"
)


def edge_lock_key(edge_id: str) -> int:
    """The signed 64-bit advisory lock key of ``edge_id`` (stable across processes)."""
    digest = hashlib.sha256(_NAMESPACE + edge_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_edges(session: Session, edge_ids: Iterable[str]) -> None:
    """Hold the ingest lock of every edge in ``edge_ids`` until the transaction ends.

    Takes the locks in ascending key order in one statement (one round trip). Call it
    before the transaction reads anything of those edges. No-op on other databases.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    keys = sorted({edge_lock_key(edge_id) for edge_id in edge_ids})
    if keys:
        session.execute(_LOCK_SQL, {"keys": keys})
