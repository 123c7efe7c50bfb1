"""Server side of the evidence chain: the key registry, stored records and chain issues.

Keyword-only functions on an open session (the caller commits), as in :mod:`server.crud`.

On ingest (:func:`ingest_record`) a record whose content matches its hash is checked
against the edge's registered key. A bad signature is refused and noted as an issue; a
record signed by a key the server does not know yet is kept unverified (and verified
when the key is registered, :func:`register_key`), so nothing an edge sent is lost to a
registration done late. Verified records are linked: a missing predecessor is a *gap*
(resolved when it arrives), two different records with one sequence number a *fork*,
a ``prev_hash`` that is not the predecessor's hash a *broken link*. Every issue names
the edge, the sequence number and the event, and is logged; a case shows the open
issues of its event (:func:`case_chain`).

The read side (:func:`case_chain`, :func:`edge_summary`, :func:`records_of_edge`,
:func:`issues_of_edge`) lives in :mod:`server.chain_status` and is re-exported here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from contracts.chain import (
    ChainEntryKind,
    SignedChainRecord,
    key_id_of,
    public_key_from_text,
    public_key_to_text,
)
from server import quarantine
from server.chain_status import (
    CaseChain,
    ChainStatus,
    EdgeChainSummary,
    case_chain,
    case_statuses,
    edge_summary,
    issues_of_edge,
    records_of_edge,
)
from server.crud import CaseCaps
from server.tables import (
    ChainEvidence,
    ChainEvidenceRole,
    ChainIssue,
    ChainIssueKind,
    ChainRecordRow,
    EdgeKey,
)

logger = logging.getLogger(__name__)

__all__ = [
    "CaseChain",
    "ChainStatus",
    "EdgeChainSummary",
    "KeyRegistrationError",
    "RecordIngest",
    "case_chain",
    "case_statuses",
    "edge_keys",
    "edge_summary",
    "ingest_record",
    "issues_of_edge",
    "list_keys",
    "records_of_edge",
    "register_key",
]


class KeyRegistrationError(ValueError):
    """A key cannot be registered (already registered to another edge, malformed)."""


@dataclass(frozen=True, slots=True)
class RecordIngest:
    """What :func:`ingest_record` did with one record.

    Attributes:
        stored: The record is stored (new, or already there).
        duplicate: An identical record was already stored; nothing changed.
        verified: Its signature verified with a registered key.
        code: Outcome code for the ingest metrics (``chain``, ``chain_duplicate``,
            ``chain_unverified``, ``bad_signature``, ``key_mismatch``).
        detail: What happened, including any issue raised.
        admitted: Cases that quarantined events joined because this record verified.
    """

    stored: bool
    duplicate: bool
    verified: bool
    code: str
    detail: str
    admitted: tuple[int, ...] = ()


def _public_key(row: EdgeKey) -> Ed25519PublicKey:
    return public_key_from_text(row.public_key)


def edge_keys(session: Session, *, edge_id: str) -> dict[str, Ed25519PublicKey]:
    """The registered public keys of ``edge_id`` by key id."""
    rows = session.scalars(select(EdgeKey).where(EdgeKey.edge_id == edge_id))
    return {row.key_id: _public_key(row) for row in rows}


def list_keys(session: Session) -> list[EdgeKey]:
    return list(session.scalars(select(EdgeKey).order_by(EdgeKey.edge_id, EdgeKey.key_id)))


class _Placed(Protocol):
    """Where in a chain something stands: a record, or the row that stores one."""

    @property
    def edge_id(self) -> str: ...

    @property
    def seq(self) -> int: ...

    @property
    def event_id(self) -> str | None: ...


def _issue(
    session: Session, about: _Placed, *, kind: ChainIssueKind, detail: str, now: datetime
) -> ChainIssue:
    """Open an issue at ``about``'s edge, sequence number and event, and log it."""
    issue = ChainIssue(
        edge_id=about.edge_id,
        seq=about.seq,
        kind=kind,
        event_id=about.event_id,
        detail=detail,
        created_at=now,
        resolved_at=None,
    )
    session.add(issue)
    logger.warning(
        "evidence chain of edge %s, seq %d: %s: %s%s",
        about.edge_id,
        about.seq,
        kind.value,
        detail,
        f" (event {about.event_id})" if about.event_id else "",
    )
    return issue


def _rows_at(session: Session, *, edge_id: str, seq: int) -> list[ChainRecordRow]:
    return list(
        session.scalars(
            select(ChainRecordRow)
            .where(
                ChainRecordRow.edge_id == edge_id,
                ChainRecordRow.seq == seq,
                ChainRecordRow.verified.is_(True),
            )
            .order_by(ChainRecordRow.id)
        )
    )


def _open_issues(
    session: Session, *, edge_id: str, seq: int, kind: ChainIssueKind
) -> list[ChainIssue]:
    return list(
        session.scalars(
            select(ChainIssue).where(
                ChainIssue.edge_id == edge_id,
                ChainIssue.seq == seq,
                ChainIssue.kind == kind,
                ChainIssue.resolved_at.is_(None),
            )
        )
    )


def _link(session: Session, row: ChainRecordRow, *, now: datetime) -> list[str]:
    """Check a newly verified row against its neighbours; returns the issues raised."""
    raised: list[str] = []
    others = [
        other for other in _rows_at(session, edge_id=row.edge_id, seq=row.seq) if other is not row
    ]
    for other in others:
        if other.record_hash != row.record_hash:
            detail = f"record {row.record_hash} differs from the stored {other.record_hash}"
            _issue(session, row, kind=ChainIssueKind.FORK, detail=detail, now=now)
            if other.event_id != row.event_id:
                _issue(
                    session,
                    other,
                    kind=ChainIssueKind.FORK,
                    detail=f"record {other.record_hash} forked by {row.record_hash}",
                    now=now,
                )
            raised.append(f"fork at seq {row.seq}")
    if row.seq > 1:
        previous = _rows_at(session, edge_id=row.edge_id, seq=row.seq - 1)
        if not previous:
            if not _open_issues(session, edge_id=row.edge_id, seq=row.seq, kind=ChainIssueKind.GAP):
                _issue(
                    session,
                    row,
                    kind=ChainIssueKind.GAP,
                    detail=f"record {row.seq - 1} has not arrived",
                    now=now,
                )
                raised.append(f"gap before seq {row.seq}")
        elif all(prev.record_hash != row.prev_hash for prev in previous):
            _issue(
                session,
                row,
                kind=ChainIssueKind.BROKEN_LINK,
                detail=f"prev_hash {row.prev_hash} is not the hash of record {row.seq - 1} "
                f"({', '.join(prev.record_hash for prev in previous)})",
                now=now,
            )
            raised.append(f"broken link at seq {row.seq}")
    following = _rows_at(session, edge_id=row.edge_id, seq=row.seq + 1)
    if following:
        for gap in _open_issues(
            session, edge_id=row.edge_id, seq=row.seq + 1, kind=ChainIssueKind.GAP
        ):
            gap.resolved_at = now
            logger.info(
                "evidence chain of edge %s: record %d arrived; gap before %d closed",
                row.edge_id,
                row.seq,
                row.seq + 1,
            )
        for nxt in following:
            if nxt.prev_hash != row.record_hash and not any(
                o.record_hash == nxt.prev_hash for o in others
            ):
                _issue(
                    session,
                    nxt,
                    kind=ChainIssueKind.BROKEN_LINK,
                    detail=f"prev_hash {nxt.prev_hash} is not the hash {row.record_hash} "
                    f"of record {row.seq}",
                    now=now,
                )
                raised.append(f"broken link at seq {nxt.seq}")
    return raised


def _store(
    session: Session, signed: SignedChainRecord, *, verified: bool, now: datetime
) -> ChainRecordRow:
    record = signed.record
    row = ChainRecordRow(
        edge_id=record.edge_id,
        seq=record.seq,
        record_hash=signed.hash,
        prev_hash=record.prev_hash,
        kind=record.kind.value,
        event_id=record.event_id,
        phase=record.phase.value if record.phase is not None else None,
        event_sha256=record.event_sha256,
        key_id=record.key_id,
        verified=verified,
        signed_json=signed.to_json().decode("ascii"),
        recorded_at=record.recorded_at,
        received_at=now,
    )
    listed = [(sha, ChainEvidenceRole.LISTED) for sha in dict.fromkeys(record.evidence_sha256)]
    dropped = [(sha, ChainEvidenceRole.DROPPED) for sha in dict.fromkeys(record.dropped_sha256)]
    row.evidence = [ChainEvidence(sha256=sha, role=role) for sha, role in listed + dropped]
    session.add(row)
    session.flush()
    return row


def _release(session: Session, row: ChainRecordRow, *, now: datetime, caps: CaseCaps) -> list[int]:
    """Admit the quarantined event messages a newly verified event record names."""
    if row.kind != ChainEntryKind.EVENT.value or row.event_sha256 is None:
        return []
    return quarantine.release(
        session, edge_id=row.edge_id, event_sha256=row.event_sha256, now=now, caps=caps
    )


def ingest_record(
    session: Session, *, signed: SignedChainRecord, now: datetime, caps: CaseCaps | None = None
) -> RecordIngest:
    """Verify, store and link one chain record (idempotent on edge, seq and hash).

    The caller has checked that ``signed.hash`` matches the record's content. A verified
    event record admits the quarantined message it names (:func:`server.quarantine.release`).

    Args:
        session: Open session; the caller commits (also when the record is refused, so
            the issue it raised is kept).
        signed: The parsed record.
        now: Receive time (UTC).
        caps: How much one case may grow (for the admitted message).
    """
    record = signed.record
    existing = session.scalar(
        select(ChainRecordRow).where(
            ChainRecordRow.edge_id == record.edge_id,
            ChainRecordRow.seq == record.seq,
            ChainRecordRow.record_hash == signed.hash,
        )
    )
    if existing is not None:
        return RecordIngest(
            stored=True,
            duplicate=True,
            verified=existing.verified,
            code="chain_duplicate",
            detail=f"record {record.seq} already stored",
        )
    key_row = session.get(EdgeKey, record.key_id)
    if key_row is not None and key_row.edge_id != record.edge_id:
        detail = (
            f"key {record.key_id} is registered to edge {key_row.edge_id}, not {record.edge_id}"
        )
        _issue(session, record, kind=ChainIssueKind.BAD_SIGNATURE, detail=detail, now=now)
        return RecordIngest(False, False, False, "key_mismatch", detail)
    if key_row is None:
        _store(session, signed, verified=False, now=now)
        detail = f"no registered key {record.key_id}; stored unverified until it is registered"
        _issue(session, record, kind=ChainIssueKind.UNKNOWN_KEY, detail=detail, now=now)
        return RecordIngest(True, False, False, "chain_unverified", detail)
    problems = signed.problems(_public_key(key_row))
    if problems:
        detail = "; ".join(problems)
        _issue(session, record, kind=ChainIssueKind.BAD_SIGNATURE, detail=detail, now=now)
        return RecordIngest(False, False, False, "bad_signature", detail)
    row = _store(session, signed, verified=True, now=now)
    raised = _link(session, row, now=now)
    admitted = _release(session, row, now=now, caps=caps or CaseCaps())
    detail = f"record {record.seq} ({record.kind.value})" + (
        f"; issues: {', '.join(raised)}" if raised else ""
    )
    if admitted:
        detail += f"; admitted to case(s) {sorted(set(admitted))}"
    return RecordIngest(True, False, True, "chain", detail, tuple(admitted))


def register_key(
    session: Session, *, edge_id: str, public_key_text: str, now: datetime
) -> tuple[EdgeKey, int]:
    """Register an edge public key and verify the records that waited for it.

    Args:
        session: Open session; the caller commits.
        edge_id: The edge the key belongs to.
        public_key_text: PEM or raw base64 Ed25519 public key.
        now: Registration time (UTC).

    Returns:
        The key row and how many waiting records it verified.

    Raises:
        KeyRegistrationError: Malformed key, or already registered to another edge.
    """
    try:
        public_key = public_key_from_text(public_key_text)
    except ValueError as exc:
        raise KeyRegistrationError(str(exc)) from exc
    key_id = key_id_of(public_key)
    row = session.get(EdgeKey, key_id)
    if row is not None and row.edge_id != edge_id:
        raise KeyRegistrationError(f"key {key_id} is already registered to edge {row.edge_id}")
    if row is None:
        row = EdgeKey(
            key_id=key_id,
            edge_id=edge_id,
            public_key=public_key_to_text(public_key),
            registered_at=now,
        )
        session.add(row)
        session.flush()
        logger.info("registered chain key %s for edge %s", key_id, edge_id)
    waiting = list(
        session.scalars(
            select(ChainRecordRow)
            .where(
                ChainRecordRow.edge_id == edge_id,
                ChainRecordRow.key_id == key_id,
                ChainRecordRow.verified.is_(False),
            )
            .order_by(ChainRecordRow.seq, ChainRecordRow.id)
        )
    )
    verified = 0
    for waiting_row in waiting:
        signed = SignedChainRecord.from_json(waiting_row.signed_json)
        problems = signed.problems(public_key)
        for issue in _open_issues(
            session, edge_id=edge_id, seq=waiting_row.seq, kind=ChainIssueKind.UNKNOWN_KEY
        ):
            if issue.event_id == waiting_row.event_id:
                issue.resolved_at = now
        if problems:
            _issue(
                session,
                waiting_row,
                kind=ChainIssueKind.BAD_SIGNATURE,
                detail="; ".join(problems),
                now=now,
            )
            session.delete(waiting_row)
            continue
        waiting_row.verified = True
        session.flush()
        _link(session, waiting_row, now=now)
        _release(session, waiting_row, now=now, caps=CaseCaps())
        verified += 1
    session.flush()
    return row, verified
