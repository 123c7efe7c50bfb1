"""The edge side of the evidence chain: sign each event into a hash chain, in the outbox.

:class:`EdgeChain` keeps the chain in the outbox's own SQLite file (table
``evidence_chain``) and appends a record for each event *inside the same transaction*
that enqueues the event and its evidence (:meth:`EdgeChain.enqueue`). After a crash
either the event, its evidence and its chain record are all in the outbox, or none is;
the sequence number and previous hash survive restarts because they are read from that
table, never from memory.

Keys are Ed25519 (``cryptography``): ``civicwatch keys create`` writes the private key
(PKCS#8 PEM, mode 0600) and the public key (PEM) that ``civicwatch keys register`` puts
into the server's edge registry.

The chain is also how the edge answers the server's :class:`contracts.resend.ResendRequest`
(:meth:`EdgeChain.resend`): each event record is linked to the outbox ids of the messages
enqueued with it, whose copies the outbox keeps after sending; and how a message the
broker can never take leaves the queue (:meth:`EdgeChain.dead_letter`): moved aside with
a signed ``drop`` record, so the server sees it was not lost silently.

Example:
    >>> key = EdgeKey.load(Path("var/keys/edge-1.key"))  # doctest: +SKIP
    >>> chain = EdgeChain(outbox, key, edge_id="edge-1")  # doctest: +SKIP
    >>> chain.enqueue(messages, events)  # instead of outbox.put_many(messages)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from pydantic import BaseModel, ConfigDict, Field

from contracts import topics
from contracts.chain import (
    GENESIS_HASH,
    ChainEntryKind,
    ChainError,
    ChainRecord,
    DropReason,
    SignedChainRecord,
    event_digest,
    key_id_of,
    sign_record,
)
from contracts.events import ZoneEvent
from edge.outbox import Outbox, PendingMessage
from edge.outbox_budget import EvidenceCandidate, OutboxBudget, OutboxBudgetConfig

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS evidence_chain (
    seq INTEGER PRIMARY KEY,
    record_hash TEXT NOT NULL,
    signed_json BLOB NOT NULL,
    recorded_at TEXT NOT NULL
)
"""

_LINKS = (
    """CREATE TABLE IF NOT EXISTS chain_messages (
    seq INTEGER NOT NULL,
    outbox_id INTEGER NOT NULL,
    PRIMARY KEY (seq, outbox_id)
)""",
    """CREATE TABLE IF NOT EXISTS resend_handled (
    request_id TEXT PRIMARY KEY,
    handled_at TEXT NOT NULL
)""",
)

MAX_DROPS_PER_RECORD = 1000
"""A drop record lists at most this many hashes; more drops make more records."""


class ChainConfig(BaseModel):
    """The edge's evidence chain: its signing key and the outbox's disk budget."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key_file: Path = Field(
        description="Ed25519 private key (PEM) made by 'civicwatch keys create'; its public "
        "key must be registered with the server ('civicwatch keys register')."
    )
    keep_records: int = Field(
        10_000,
        ge=100,
        le=100_000_000,
        description="Signed records kept locally after sending (the server keeps all).",
    )
    budget: OutboxBudgetConfig = Field(
        default_factory=OutboxBudgetConfig,
        description="Disk budget of the outbox and what is dropped when it is reached.",
    )


@dataclass(frozen=True, slots=True)
class EdgeKey:
    """An edge's Ed25519 signing key and its id (:func:`contracts.chain.key_id_of`)."""

    private_key: Ed25519PrivateKey
    key_id: str

    @classmethod
    def generate(cls) -> EdgeKey:
        private_key = Ed25519PrivateKey.generate()
        return cls(private_key=private_key, key_id=key_id_of(private_key.public_key()))

    @classmethod
    def load(cls, path: Path) -> EdgeKey:
        """Read a PKCS#8 PEM private key.

        Raises:
            ChainError: The file is unreadable, not PEM, encrypted, or not Ed25519.
        """
        try:
            data = path.read_bytes()
            mode = path.stat().st_mode
        except OSError as exc:
            raise ChainError(f"{path}: cannot read the chain key ({exc.strerror})") from exc
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            logger.warning(
                "chain key %s is readable by group or others (mode %o); chmod 600 it",
                path,
                stat.S_IMODE(mode),
            )
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise ChainError(f"{path}: not an unencrypted PEM private key: {exc}") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise ChainError(f"{path}: key is {type(key).__name__}, not Ed25519")
        return cls(private_key=key, key_id=key_id_of(key.public_key()))

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    def public_pem(self) -> bytes:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def save(self, directory: Path, edge_id: str, *, overwrite: bool = False) -> tuple[Path, Path]:
        """Write ``<edge_id>.key`` (mode 0600) and ``<edge_id>.pub`` into ``directory``.

        Raises:
            FileExistsError: A key file exists and ``overwrite`` is false.
        """
        topics.edge_root(edge_id)  # validates the id before it becomes a file name
        directory.mkdir(parents=True, exist_ok=True)
        private_path = directory / f"{edge_id}.key"
        public_path = directory / f"{edge_id}.pub"
        if not overwrite and (private_path.exists() or public_path.exists()):
            raise FileExistsError(f"{private_path} or {public_path} already exists")
        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        fd = os.open(private_path, flags, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        private_path.chmod(0o600)
        public_path.write_bytes(self.public_pem())
        return private_path, public_path


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The newest record: its sequence number (0 when empty) and hash."""

    seq: int
    hash: str


def _utcnow() -> datetime:
    return datetime.now(UTC)


class EdgeChain:
    """An edge's signed hash chain, stored in and written through its outbox.

    Args:
        outbox: The edge's outbox; the chain table lives in the same SQLite file.
        key: The signing key.
        edge_id: The edge; every event enqueued must carry it.
        budget: The outbox disk budget to apply on each enqueue, or ``None``.
        keep_records: Signed records kept locally (older ones are pruned).
        clock: Source of ``recorded_at`` (UTC); injectable for tests.
    """

    def __init__(
        self,
        outbox: Outbox,
        key: EdgeKey,
        *,
        edge_id: str,
        budget: OutboxBudgetConfig | None = None,
        keep_records: int = 10_000,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        topics.edge_root(edge_id)
        self.outbox = outbox
        self.key = key
        self.edge_id = edge_id
        self.budget = OutboxBudget(budget, edge_id=edge_id) if budget is not None else None
        self.keep_records = keep_records
        self._clock = clock
        self._reader = sqlite3.connect(outbox.path, check_same_thread=False)
        self._reader.execute("PRAGMA busy_timeout=10000")
        with self._reader:
            self._reader.execute(_SCHEMA)
            for table in _LINKS:
                self._reader.execute(table)
        head = self.head()
        logger.info(
            "edge %s: evidence chain at seq %d (key %s) in %s",
            edge_id,
            head.seq,
            key.key_id,
            outbox.path,
        )

    @classmethod
    def from_config(cls, outbox: Outbox, config: ChainConfig, *, edge_id: str) -> EdgeChain:
        """Load the key named by ``config`` and apply its budget."""
        return cls(
            outbox,
            EdgeKey.load(config.key_file),
            edge_id=edge_id,
            budget=config.budget,
            keep_records=config.keep_records,
        )

    def head(self) -> ChainHead:
        """The newest record (seq 0 and the genesis hash when the chain is empty)."""
        return self._head(self._reader)

    @staticmethod
    def _head(conn: sqlite3.Connection) -> ChainHead:
        row = conn.execute(
            "SELECT seq, record_hash FROM evidence_chain ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return ChainHead(seq=0, hash=GENESIS_HASH) if row is None else ChainHead(row[0], row[1])

    def records(self, *, after_seq: int = 0, limit: int = 1000) -> list[SignedChainRecord]:
        """Locally kept signed records with ``seq > after_seq``, oldest first."""
        rows = self._reader.execute(
            "SELECT signed_json FROM evidence_chain WHERE seq > ? ORDER BY seq LIMIT ?",
            (after_seq, limit),
        ).fetchall()
        return [SignedChainRecord.from_json(bytes(row[0])) for row in rows]

    def enqueue(
        self,
        messages: list[PendingMessage],
        events: Sequence[ZoneEvent],
        *,
        now: datetime | None = None,
    ) -> list[SignedChainRecord]:
        """Enqueue ``messages`` and one signed chain record per event, in one transaction.

        Then applies the disk budget in the same transaction; evidence it drops is
        recorded by a ``drop`` record. Call it instead of ``outbox.put_many(messages)``.

        Args:
            messages: The evidence and event messages, as for ``Outbox.put_many``.
            events: The events among ``messages``, in order; each gets a record.
            now: ``recorded_at`` of the new records (default: the clock).

        Returns:
            The records appended (event records first, then any drop records).

        Raises:
            ValueError: An event belongs to another edge.
        """
        for event in events:
            if event.edge_id != self.edge_id:
                raise ValueError(f"event {event.event_id} is from edge {event.edge_id!r}")
        recorded_at = now or self._clock()
        # The digest the server computes: from the wire bytes, parsed and re-encoded.
        digests = [event_digest(ZoneEvent.from_json(event.to_json())) for event in events]
        appended: list[SignedChainRecord] = []

        def then(conn: sqlite3.Connection, ids: list[int]) -> list[PendingMessage]:
            appended.clear()
            head = self._head(conn)
            for event, digest in zip(events, digests, strict=True):
                conn.executemany(
                    "INSERT OR IGNORE INTO chain_messages (seq, outbox_id) VALUES (?, ?)",
                    [(head.seq + 1, message_id) for message_id in ids],
                )
                head = self._append(
                    conn,
                    head,
                    appended,
                    kind=ChainEntryKind.EVENT,
                    event_id=event.event_id,
                    phase=event.phase,
                    event_sha256=digest,
                    evidence_sha256=[ref.sha256 for ref in event.evidence],
                    recorded_at=recorded_at,
                )
            if self.budget is not None:
                self._record_drops(conn, head, appended, self.budget.enforce(conn), recorded_at)
            self._prune(conn)
            return [self._message(signed) for signed in appended]

        self.outbox.put_many(messages, then=then)
        return list(appended)

    def enforce_budget(self, *, now: datetime | None = None) -> list[SignedChainRecord]:
        """Apply the disk budget without a new event (e.g. periodically); returns drop records."""
        return self.enqueue([], [], now=now)

    def dead_letter(self, message_id: int, reason: str) -> SignedChainRecord | None:
        """Move a pending message that can never be sent aside, with a signed ``drop`` record.

        One transaction: the message leaves the outbox for its ``dead_letter`` table (kept,
        with ``reason``) and a ``drop`` record (reason ``undeliverable``) naming the
        payload's SHA-256 is appended and queued, so the queue moves on and the server
        learns what the edge could not deliver.

        Returns:
            The drop record, or ``None`` when the message was no longer pending.
        """
        appended: list[SignedChainRecord] = []
        recorded_at = self._clock()

        def work(conn: sqlite3.Connection) -> list[PendingMessage]:
            appended.clear()
            row = conn.execute("SELECT payload FROM outbox WHERE id = ?", (message_id,)).fetchone()
            if row is None or not self.outbox.move_to_dead_letter(conn, message_id, reason):
                return []
            self._append(
                conn,
                self._head(conn),
                appended,
                kind=ChainEntryKind.DROP,
                dropped_sha256=[hashlib.sha256(bytes(row[0])).hexdigest()],
                drop_reason=DropReason.UNDELIVERABLE,
                recorded_at=recorded_at,
            )
            return [self._message(signed) for signed in appended]

        self.outbox.transaction(work)
        if appended:
            logger.error(
                "edge %s: outbox message %d can never be sent (%s); moved to the dead letter, "
                "chain record %d says so",
                self.edge_id,
                message_id,
                reason,
                appended[0].record.seq,
            )
        return appended[0] if appended else None

    def record_clip(self, event_id: str, sha256: str) -> SignedChainRecord:
        """Fix an event clip of the case ``event_id`` by a signed ``clip`` record (queued).

        The clip's bytes go to the server over HTTP; the record names their sha256, so the
        server's verification checks the file it stored against it.
        """
        appended: list[SignedChainRecord] = []
        recorded_at = self._clock()

        def work(conn: sqlite3.Connection) -> list[PendingMessage]:
            appended.clear()
            self._append(
                conn,
                self._head(conn),
                appended,
                kind=ChainEntryKind.CLIP,
                event_id=event_id,
                evidence_sha256=[sha256],
                recorded_at=recorded_at,
            )
            return [self._message(signed) for signed in appended]

        self.outbox.transaction(work)
        return appended[0]

    def linked_outbox_ids(self, from_seq: int, to_seq: int | None) -> list[int]:
        """Outbox ids of the messages enqueued with the records ``from_seq`` .. ``to_seq``."""
        rows = self._reader.execute(
            "SELECT DISTINCT outbox_id FROM chain_messages WHERE seq >= ? AND seq <= ?"
            " ORDER BY outbox_id",
            (from_seq, to_seq if to_seq is not None else 2**62),
        ).fetchall()
        return [int(row[0]) for row in rows]

    def mark_handled(self, request_id: str) -> bool:
        """Note a resend request as handled; ``False`` when it already was."""
        with self._reader:
            cur = self._reader.execute(
                "INSERT OR IGNORE INTO resend_handled (request_id, handled_at) VALUES (?, ?)",
                (request_id, self._clock().isoformat()),
            )
        return bool(cur.rowcount)

    def record_message(self, signed: SignedChainRecord) -> PendingMessage:
        """The outbox message that carries ``signed`` (for re-sending)."""
        return self._message(signed)

    def _record_drops(
        self,
        conn: sqlite3.Connection,
        head: ChainHead,
        appended: list[SignedChainRecord],
        drops: list[EvidenceCandidate],
        recorded_at: datetime,
    ) -> None:
        hashes = sorted({drop.sha256 for drop in drops})
        for start in range(0, len(hashes), MAX_DROPS_PER_RECORD):
            head = self._append(
                conn,
                head,
                appended,
                kind=ChainEntryKind.DROP,
                dropped_sha256=hashes[start : start + MAX_DROPS_PER_RECORD],
                drop_reason=DropReason.OUTBOX_BUDGET,
                recorded_at=recorded_at,
            )

    def _append(
        self,
        conn: sqlite3.Connection,
        head: ChainHead,
        appended: list[SignedChainRecord],
        **fields: object,
    ) -> ChainHead:
        record = ChainRecord.model_validate(
            {
                "edge_id": self.edge_id,
                "seq": head.seq + 1,
                "prev_hash": head.hash,
                "key_id": self.key.key_id,
                **fields,
            }
        )
        signed = sign_record(record, self.key.private_key)
        conn.execute(
            "INSERT INTO evidence_chain (seq, record_hash, signed_json, recorded_at)"
            " VALUES (?, ?, ?, ?)",
            (record.seq, signed.hash, signed.to_json(), record.recorded_at.isoformat()),
        )
        appended.append(signed)
        return ChainHead(seq=record.seq, hash=signed.hash)

    def _prune(self, conn: sqlite3.Connection) -> None:
        head = self._head(conn)
        if head.seq > self.keep_records and head.seq % 100 == 0:
            conn.execute(
                "DELETE FROM evidence_chain WHERE seq <= ?", (head.seq - self.keep_records,)
            )
            conn.execute(
                "DELETE FROM chain_messages WHERE seq <= ?", (head.seq - self.keep_records,)
            )

    def _message(self, signed: SignedChainRecord) -> PendingMessage:
        return PendingMessage(
            topic=topics.chain_topic(self.edge_id, signed.record.seq),
            payload=signed.to_json(),
            content_type="application/json",
        )

    def close(self) -> None:
        self._reader.close()
