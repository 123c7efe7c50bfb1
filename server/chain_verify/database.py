"""Verification of what the server stores: an edge's whole chain, or one case.

Reads the database and the evidence directory directly (the server need not run). Every
check recomputes hashes from the stored bytes and names exactly what does not match:
which record (edge, sequence number, database row), which event message (case, phase,
row), which evidence file (path), what was expected and what was found.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from contracts.chain import ChainEntryKind, SignedChainRecord, canonical_json, verify_records
from server import chain_store, crud
from server.chain_verify.report import VerifyReport, first_error, sha256_hex
from server.evidence_store import EvidenceBackend, EvidenceCorruptError
from server.tables import Case, CaseEvent, ChainEvidence, ChainEvidenceRole, ChainRecordRow

logger = logging.getLogger(__name__)


def _parse_row(row: ChainRecordRow, report: VerifyReport) -> SignedChainRecord | None:
    """The signed record stored in ``row``; a stored copy that no longer parses is an error."""
    where = f"{row.edge_id} seq {row.seq} (chain_records row {row.id})"
    try:
        signed = SignedChainRecord.from_json(row.signed_json)
    except ValidationError as exc:
        report.error(where, f"the stored signed record no longer parses ({first_error(exc)})")
        return None
    record = signed.record
    columns = {
        "edge_id": (row.edge_id, record.edge_id),
        "seq": (row.seq, record.seq),
        "record_hash": (row.record_hash, signed.hash),
        "prev_hash": (row.prev_hash, record.prev_hash),
        "event_id": (row.event_id, record.event_id),
        "event_sha256": (row.event_sha256, record.event_sha256),
        "key_id": (row.key_id, record.key_id),
    }
    for column, (stored, signed_value) in columns.items():
        if stored != signed_value:
            report.error(
                where, f"column {column} is {stored!r} but the signed record says {signed_value!r}"
            )
    return signed


def _parse_rows(rows: list[ChainRecordRow], report: VerifyReport) -> list[SignedChainRecord]:
    """The signed records of ``rows`` that still parse; counts the rows as checked."""
    report.count("records", len(rows))
    parsed = (_parse_row(row, report) for row in rows)
    return [signed for signed in parsed if signed is not None]


def _check_evidence_file(
    store: EvidenceBackend, sha256: str, where: str, report: VerifyReport
) -> None:
    try:
        store.read(sha256)  # checks the hash
    except FileNotFoundError:
        path = store.where(sha256)
        report.error(where, f"evidence {sha256} is recorded but its file {path} is missing")
        return
    except EvidenceCorruptError as exc:
        report.count("evidence files")
        report.error(where, str(exc))
        return
    report.count("evidence files")


def _check_event_payload(event: CaseEvent, case: Case, report: VerifyReport) -> str:
    """Recompute a stored event message's hash; returns it."""
    report.count("event messages")
    actual = sha256_hex(canonical_json(event.payload))
    if actual != event.payload_sha256:
        report.error(
            f"case {case.id} {event.phase.value} message (case_events row {event.id})",
            f"stored payload hashes to {actual}, recorded payload_sha256 is {event.payload_sha256}",
        )
    return actual


def _evidence_checks(
    session: Session,
    store: EvidenceBackend,
    listed: Mapping[str, str],
    dropped: Mapping[str, int],
    report: VerifyReport,
) -> None:
    """Check each listed evidence hash: stored and intact, or dropped by a record."""
    for sha256, where in listed.items():
        if sha256 in dropped:
            report.notice(
                where,
                f"evidence {sha256} was dropped unsent by the edge (outbox budget), "
                f"recorded by seq {dropped[sha256]}",
            )
            if crud.get_evidence(session, sha256=sha256) is not None:
                _check_evidence_file(store, sha256, where, report)
            continue
        if crud.get_evidence(session, sha256=sha256) is None:
            report.error(where, f"evidence {sha256} has not arrived")
            continue
        _check_evidence_file(store, sha256, where, report)


def dropped_of_edge(session: Session, edge_id: str) -> dict[str, int]:
    """Evidence the edge's records say it dropped unsent: sha256 -> the record's seq."""
    rows = session.execute(
        select(ChainEvidence.sha256, ChainRecordRow.seq)
        .join(ChainRecordRow, ChainEvidence.record_id == ChainRecordRow.id)
        .where(
            ChainRecordRow.edge_id == edge_id,
            ChainEvidence.role == ChainEvidenceRole.DROPPED,
        )
    )
    return {row[0]: row[1] for row in rows}


def _keys(session: Session, edge_id: str, report: VerifyReport) -> dict[str, Ed25519PublicKey]:
    keys = chain_store.edge_keys(session, edge_id=edge_id)
    if not keys:
        report.error(f"edge {edge_id}", "no public key is registered (civicwatch keys register)")
    return keys


def verify_edge(session: Session, store: EvidenceBackend, *, edge_id: str) -> VerifyReport:
    """Verify an edge's whole chain and everything it fixes.

    Checks every stored record (it parses, its columns match it, its hash and signature
    hold), the sequence from 1 without gaps or forks, every link, every event message a
    record fixes (present, and its stored payload still hashes to the fixed value), every
    evidence file (present and intact, or dropped by a record), and that every event
    message of the edge's cases is fixed by some record.
    """
    report = VerifyReport(subject=f"edge {edge_id}")
    keys = _keys(session, edge_id, report)
    rows = _trusted(chain_store.records_of_edge(session, edge_id=edge_id), report)
    parsed = _parse_rows(rows, report)
    if not rows:
        report.error(f"edge {edge_id}", "no chain record is stored")
    report.findings.extend(verify_records(parsed, keys, complete=True))
    cases = {
        case.event_id: case for case in session.scalars(select(Case).where(Case.edge_id == edge_id))
    }
    fixed: set[str] = set()
    listed: dict[str, str] = {}
    for signed in parsed:
        record = signed.record
        if record.kind is ChainEntryKind.CLIP:  # an event clip: its file must be intact
            where = f"{edge_id} seq {record.seq} (clip of event {record.event_id})"
            for sha256 in record.evidence_sha256:
                listed.setdefault(sha256, where)
            continue
        if record.kind is not ChainEntryKind.EVENT or record.event_sha256 is None:
            continue
        where = f"{edge_id} seq {record.seq} ({record.phase} of event {record.event_id})"
        fixed.add(record.event_sha256)
        for sha256 in record.evidence_sha256:
            listed.setdefault(sha256, where)
        case = cases.get(record.event_id or "")
        if case is None:
            report.error(where, "the event message it fixes has not arrived (no case)")
            continue
        if not any(e.payload_sha256 == record.event_sha256 for e in case.events):
            report.error(
                where,
                f"case {case.id} holds no event message with sha256 {record.event_sha256}",
            )
    for case in cases.values():
        for event in case.events:
            actual = _check_event_payload(event, case, report)
            if event.payload_sha256 not in fixed and actual not in fixed:
                report.error(
                    f"case {case.id} {event.phase.value} message (case_events row {event.id})",
                    f"not fixed by any chain record of edge {edge_id}",
                )
    _evidence_checks(session, store, listed, dropped_of_edge(session, edge_id), report)
    return report


def _trusted(rows: list[ChainRecordRow], report: VerifyReport) -> list[ChainRecordRow]:
    """The rows the server verified; the others (signed by no registered key) are only
    mentioned: they are claims, not part of the edge's chain."""
    untrusted = [row for row in rows if not row.verified]
    if untrusted:
        seqs = ", ".join(str(row.seq) for row in untrusted[:10])
        more = f" and {len(untrusted) - 10} more" if len(untrusted) > 10 else ""
        report.notice(
            f"edge {untrusted[0].edge_id}",
            f"{len(untrusted)} record(s) signed by no registered key were received and are "
            f"not part of the chain (seq {seqs}{more})",
        )
    return [row for row in rows if row.verified]


@dataclass(frozen=True, slots=True)
class CaseSegment:
    """The stretch of an edge's chain that a case needs.

    Attributes:
        own: The records that name the case's event, by sequence number.
        span: Every record of the edge from just before the first of them to the last
            (the span that shows nothing was removed in between).
    """

    own: list[ChainRecordRow]
    span: list[ChainRecordRow]


def case_segment(session: Session, case: Case) -> CaseSegment:
    """The case's own records and the span of the edge's chain around them."""
    own = list(
        session.scalars(
            select(ChainRecordRow)
            .where(ChainRecordRow.edge_id == case.edge_id, ChainRecordRow.event_id == case.event_id)
            .order_by(ChainRecordRow.seq, ChainRecordRow.id)
        )
    )
    if not own:
        return CaseSegment(own=[], span=[])
    low = max(own[0].seq - 1, 1)
    high = own[-1].seq
    segment = list(
        session.scalars(
            select(ChainRecordRow)
            .where(
                ChainRecordRow.edge_id == case.edge_id,
                ChainRecordRow.seq >= low,
                ChainRecordRow.seq <= high,
            )
            .order_by(ChainRecordRow.seq, ChainRecordRow.id)
        )
    )
    return CaseSegment(own=own, span=segment)


def verify_case(session: Session, store: EvidenceBackend, *, case_id: int) -> VerifyReport:
    """Verify one case: its records and the span between them, its messages, its evidence."""
    report = VerifyReport(subject=f"case {case_id}")
    case = crud.get_case(session, case_id=case_id)
    if case is None:
        report.error(f"case {case_id}", "no such case")
        return report
    keys = _keys(session, case.edge_id, report)
    found = case_segment(session, case)
    segment = _trusted(found.span, report)
    own = [row for row in found.own if row.verified]
    parsed = _parse_rows(segment, report)
    if not own:
        report.error(f"case {case_id}", f"no chain record names event {case.event_id}")
    report.findings.extend(
        verify_records(parsed, keys, complete=bool(segment) and segment[0].seq == 1)
    )
    own_records = [s.record for s in parsed if s.record.event_id == case.event_id]
    own_digests = {r.event_sha256: r for r in own_records if r.kind is ChainEntryKind.EVENT}
    listed: dict[str, str] = {}
    for record in own_records:  # event records and clip records list evidence
        for sha256 in record.evidence_sha256:
            listed.setdefault(
                sha256, f"{case.edge_id} seq {record.seq} ({record.phase or record.kind})"
            )
    for event in case.events:
        actual = _check_event_payload(event, case, report)
        if event.payload_sha256 not in own_digests:
            report.error(
                f"case {case.id} {event.phase.value} message (case_events row {event.id})",
                f"not fixed by any chain record (its sha256 is {actual})",
            )
    for item in case.evidence:
        listed.setdefault(item.sha256, f"case {case.id} {item.kind} evidence")
        if not any(item.sha256 in r.evidence_sha256 for r in own_records):
            report.error(
                f"case {case.id} {item.kind} evidence {item.sha256}",
                "not listed by any chain record of the case",
            )
    _evidence_checks(session, store, listed, dropped_of_edge(session, case.edge_id), report)
    for issue in chain_store.case_chain(session, case=case).issues:
        report.error(f"{issue.edge_id} seq {issue.seq}", f"open {issue.kind.value}: {issue.detail}")
    return report
