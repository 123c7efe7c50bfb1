"""Offline verification of the evidence chain: a case, an edge's whole chain, a case package.

These functions read the database and the evidence directory directly (the server need
not run) or, for a package, nothing but the package. Every check recomputes hashes from
the stored bytes and says exactly what does not match: which record (edge, sequence
number, database row), which event message (case, phase, row), which evidence file
(path), what was expected and what was found.

A case package (:func:`export_case`) is a zip file or directory holding ``manifest.json``,
the case's signed chain records and every record between them (``records/``), its event
messages in canonical JSON (``events/``), its evidence bytes (``evidence/``) and the
edge's public keys, so a third party can check it with :func:`verify_package` alone.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from contracts.chain import (
    ChainEntryKind,
    ChainError,
    ChainFinding,
    SignedChainRecord,
    canonical_json,
    key_id_of,
    public_key_from_text,
    public_key_to_text,
    verify_records,
)
from server import chain_store, crud
from server.evidence_store import EvidenceStore
from server.tables import (
    Case,
    CaseEvent,
    ChainEvidence,
    ChainEvidenceRole,
    ChainRecordRow,
)

logger = logging.getLogger(__name__)

PACKAGE_VERSION: Final[int] = 1
_EXTENSIONS: Final[dict[str, str]] = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "application/json": "json",
}


@dataclass
class VerifyReport:
    """The result of one verification.

    Attributes:
        subject: What was verified (``case 12``, ``edge edge-1``, ``package case-12.zip``).
        findings: Errors (it does not verify) and notices (explained, not failures).
        checked: What was checked, by kind (records, event messages, evidence files).
    """

    subject: str
    findings: list[ChainFinding] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    def error(self, where: str, what: str) -> None:
        self.findings.append(ChainFinding("error", where, what))

    def notice(self, where: str, what: str) -> None:
        self.findings.append(ChainFinding("notice", where, what))

    def count(self, kind: str, n: int = 1) -> None:
        self.checked[kind] = self.checked.get(kind, 0) + n

    def lines(self) -> list[str]:
        """A human-readable report: verdict, counts, then every finding."""
        counts = ", ".join(f"{n} {kind}" for kind, n in sorted(self.checked.items()))
        errors = sum(1 for f in self.findings if f.severity == "error")
        verdict = "VERIFIED" if self.ok else f"FAILED ({errors} error(s))"
        return [f"{self.subject}: {verdict}; checked {counts or 'nothing'}"] + [
            f"  {finding}" for finding in self.findings
        ]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _parse_row(row: ChainRecordRow, report: VerifyReport) -> SignedChainRecord | None:
    """The signed record stored in ``row``; a stored copy that no longer parses is an error."""
    where = f"{row.edge_id} seq {row.seq} (chain_records row {row.id})"
    try:
        signed = SignedChainRecord.from_json(row.signed_json)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        loc = ".".join(str(p) for p in first["loc"]) or "record"
        report.error(where, f"the stored signed record no longer parses ({loc}: {first['msg']})")
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


def _check_evidence_file(
    store: EvidenceStore, sha256: str, where: str, report: VerifyReport
) -> None:
    path = store.path_for(sha256)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        report.error(where, f"evidence {sha256} is recorded but its file {path} is missing")
        return
    report.count("evidence files")
    actual = _sha(data)
    if actual != sha256:
        report.error(where, f"evidence file {path} hashes to {actual}, expected {sha256}")


def _check_event_payload(event: CaseEvent, case: Case, report: VerifyReport) -> str:
    """Recompute a stored event message's hash; returns it."""
    report.count("event messages")
    actual = _sha(canonical_json(event.payload))
    if actual != event.payload_sha256:
        report.error(
            f"case {case.id} {event.phase.value} message (case_events row {event.id})",
            f"stored payload hashes to {actual}, recorded payload_sha256 is {event.payload_sha256}",
        )
    return actual


def _evidence_checks(
    session: Session,
    store: EvidenceStore,
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


def _dropped_of_edge(session: Session, edge_id: str) -> dict[str, int]:
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


def verify_edge(session: Session, store: EvidenceStore, *, edge_id: str) -> VerifyReport:
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
    parsed: list[SignedChainRecord] = []
    for row in rows:
        signed = _parse_row(row, report)
        if signed is not None:
            parsed.append(signed)
    report.count("records", len(rows))
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
    _evidence_checks(session, store, listed, _dropped_of_edge(session, edge_id), report)
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


def _case_segment(
    session: Session, case: Case
) -> tuple[list[ChainRecordRow], list[ChainRecordRow]]:
    """The case's own records and every record of the edge from just before the first
    of them to the last (the span that shows nothing was removed in between)."""
    own = list(
        session.scalars(
            select(ChainRecordRow)
            .where(ChainRecordRow.edge_id == case.edge_id, ChainRecordRow.event_id == case.event_id)
            .order_by(ChainRecordRow.seq, ChainRecordRow.id)
        )
    )
    if not own:
        return [], []
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
    return own, segment


def verify_case(session: Session, store: EvidenceStore, *, case_id: int) -> VerifyReport:
    """Verify one case: its records and the span between them, its messages, its evidence."""
    report = VerifyReport(subject=f"case {case_id}")
    case = crud.get_case(session, case_id=case_id)
    if case is None:
        report.error(f"case {case_id}", "no such case")
        return report
    keys = _keys(session, case.edge_id, report)
    own, segment = _case_segment(session, case)
    segment = _trusted(segment, report)
    own = [row for row in own if row.verified]
    parsed: list[SignedChainRecord] = []
    for row in segment:
        signed = _parse_row(row, report)
        if signed is not None:
            parsed.append(signed)
    report.count("records", len(segment))
    if not own:
        report.error(f"case {case_id}", f"no chain record names event {case.event_id}")
    report.findings.extend(
        verify_records(parsed, keys, complete=bool(segment) and segment[0].seq == 1)
    )
    own_digests = {
        signed.record.event_sha256: signed.record
        for signed in parsed
        if signed.record.event_id == case.event_id
    }
    listed: dict[str, str] = {}
    for record in own_digests.values():
        for sha256 in record.evidence_sha256:
            listed.setdefault(sha256, f"{case.edge_id} seq {record.seq} ({record.phase})")
    for event in case.events:
        actual = _check_event_payload(event, case, report)
        if event.payload_sha256 not in own_digests:
            report.error(
                f"case {case.id} {event.phase.value} message (case_events row {event.id})",
                f"not fixed by any chain record (its sha256 is {actual})",
            )
    for item in case.evidence:
        listed.setdefault(item.sha256, f"case {case.id} {item.kind} evidence")
        if not any(item.sha256 in r.evidence_sha256 for r in own_digests.values()):
            report.error(
                f"case {case.id} {item.kind} evidence {item.sha256}",
                "not listed by any chain record of the case",
            )
    _evidence_checks(session, store, listed, _dropped_of_edge(session, case.edge_id), report)
    for issue in chain_store.case_chain(session, case=case).issues:
        report.error(f"{issue.edge_id} seq {issue.seq}", f"open {issue.kind.value}: {issue.detail}")
    return report


# ---------------------------------------------------------------------------------------
# Case packages


def export_case(
    session: Session, store: EvidenceStore, *, case_id: int, out: Path, now: datetime
) -> Path:
    """Write a self-contained, offline-verifiable package of one case.

    Args:
        session: Open session (read only).
        store: The evidence files.
        case_id: The case.
        out: A ``.zip`` file, or a directory (created; must be empty or absent).
        now: Export time (UTC), written into the manifest.

    Returns:
        ``out``.

    Raises:
        LookupError: No such case.
        FileExistsError: ``out`` exists (a file, or a directory that is not empty).
    """
    case = crud.get_case(session, case_id=case_id)
    if case is None:
        raise LookupError(f"case {case_id} not found")
    _, segment = _case_segment(session, case)
    segment = [row for row in segment if row.verified]
    files: dict[str, bytes] = {}
    record_names = []
    for row in segment:
        name = f"records/{row.seq:012d}-{row.record_hash[:12]}.json"
        files[name] = row.signed_json.encode("ascii")
        record_names.append(name)
    events = []
    for event in case.events:
        name = f"events/{event.payload_sha256}.json"
        files[name] = canonical_json(event.payload)
        events.append({"phase": event.phase.value, "sha256": event.payload_sha256, "file": name})
    dropped = _dropped_of_edge(session, case.edge_id)
    evidence = []
    for item in case.evidence:
        entry: dict[str, Any] = {
            "sha256": item.sha256,
            "kind": item.kind,
            "content_type": item.content_type,
            "file": None,
            "dropped_by_seq": dropped.get(item.sha256),
        }
        if item.stored is not None:
            name = f"evidence/{item.sha256}.{_EXTENSIONS.get(item.content_type, 'bin')}"
            try:
                files[name] = store.read(item.sha256)
                entry["file"] = name
            except FileNotFoundError:
                logger.error("case %d: evidence file of %s is missing", case_id, item.sha256)
        evidence.append(entry)
    keys = chain_store.edge_keys(session, edge_id=case.edge_id)
    manifest = {
        "package_version": PACKAGE_VERSION,
        "exported_at": now.isoformat(),
        "case": {
            "id": case.id,
            "event_id": case.event_id,
            "edge_id": case.edge_id,
            "camera_id": case.camera_id,
            "zone_id": case.zone_id,
            "violation_type": case.violation_type,
            "status": case.status.value,
            "first_seen": case.first_seen.isoformat(),
            "last_seen": case.last_seen.isoformat(),
        },
        "keys": {key_id: public_key_to_text(key) for key_id, key in sorted(keys.items())},
        "records": record_names,
        "events": events,
        "evidence": evidence,
    }
    files["manifest.json"] = json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8")
    if out.suffix == ".zip":
        if out.exists():
            raise FileExistsError(f"{out} already exists")
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "x", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in sorted(files.items()):
                archive.writestr(name, data)
    else:
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise FileExistsError(f"{out} exists and is not an empty directory")
        for name, data in files.items():
            target = out / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    logger.info("exported case %d (%d records) to %s", case_id, len(record_names), out)
    return out


def _read_package(path: Path, report: VerifyReport) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    if path.is_dir():
        for item in sorted(path.rglob("*")):
            if item.is_file():
                files[item.relative_to(path).as_posix()] = item.read_bytes()
        return files
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                try:
                    files[info.filename] = archive.read(info)
                except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
                    report.error(info.filename, f"zip member is corrupt: {exc}")
    except (zipfile.BadZipFile, OSError) as exc:
        report.error(str(path), f"not a readable zip file or directory: {exc}")
    return files


def _manifest_list(manifest: Mapping[str, Any], key: str) -> list[Any]:
    value = manifest.get(key)
    return value if isinstance(value, list) else []


def verify_package(
    path: Path, *, trusted_keys: Mapping[str, Ed25519PublicKey] | None = None
) -> VerifyReport:
    """Verify an exported case package without the server or its database.

    Args:
        path: The ``.zip`` file or directory written by :func:`export_case`.
        trusted_keys: Public keys obtained independently (e.g. from the registry);
            without them the keys inside the package are used, and a notice says so.
    """
    report = VerifyReport(subject=f"package {path}")
    files = _read_package(path, report)
    if not files:
        return report
    try:
        manifest = json.loads(files["manifest.json"])
        case_info = manifest["case"]
        event_id, edge_id = str(case_info["event_id"]), str(case_info["edge_id"])
    except (KeyError, TypeError, ValueError) as exc:
        report.error("manifest.json", f"missing or unreadable ({type(exc).__name__}: {exc})")
        return report
    keys: dict[str, Ed25519PublicKey] = {}
    packaged = manifest.get("keys") if isinstance(manifest.get("keys"), dict) else {}
    for key_id, text in packaged.items():
        try:
            key = public_key_from_text(str(text))
        except ChainError as exc:
            report.error(f"manifest key {key_id}", str(exc))
            continue
        if key_id_of(key) != key_id:
            report.error(f"manifest key {key_id}", f"the key's id is {key_id_of(key)}")
            continue
        keys[key_id] = key
    if trusted_keys is not None:
        for key_id in keys.keys() - trusted_keys.keys():
            report.error(f"manifest key {key_id}", "not among the trusted keys given")
        keys = dict(trusted_keys)
    else:
        report.notice(
            "keys",
            f"verified with the key(s) inside the package ({', '.join(sorted(keys)) or 'none'});"
            " compare them with the server's registry (civicwatch keys list) or pass "
            "--public-key",
        )
    records: list[SignedChainRecord] = []
    for name in _manifest_list(manifest, "records"):
        data = files.get(str(name))
        if data is None:
            report.error(str(name), "listed in the manifest but missing from the package")
            continue
        try:
            records.append(SignedChainRecord.from_json(data))
        except ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            loc = ".".join(str(p) for p in first["loc"]) or "record"
            report.error(str(name), f"record does not parse ({loc}: {first['msg']})")
    report.count("records", len(records))
    first_seq = min((r.record.seq for r in records), default=1)
    report.findings.extend(verify_records(records, keys, complete=first_seq == 1))
    own = [r.record for r in records if r.record.event_id == event_id]
    if not own:
        report.error(f"case event {event_id}", "no record in the package names the case")
    for record in own:
        if record.edge_id != edge_id:
            report.error(f"seq {record.seq}", f"record edge {record.edge_id}, case edge {edge_id}")
    fixed = {r.event_sha256: r for r in own}
    seen_events: set[str] = set()
    for entry in _manifest_list(manifest, "events"):
        name = str(entry.get("file")) if isinstance(entry, dict) else str(entry)
        data = files.get(name)
        if data is None:
            report.error(name, "listed in the manifest but missing from the package")
            continue
        report.count("event messages")
        actual = _sha(data)
        seen_events.add(actual)
        if actual not in fixed:
            named = Path(name).stem
            report.error(
                name,
                f"hashes to {actual}; "
                + (
                    f"the chain fixed {named}"
                    if named in fixed
                    else "no record of the case fixes this message"
                ),
            )
    for digest, record in fixed.items():
        if digest not in seen_events and f"events/{digest}.json" not in files:
            report.error(f"{edge_id} seq {record.seq}", f"event message {digest} is not included")
    listed = {sha: r.seq for r in own for sha in r.evidence_sha256}
    dropped = {sha: r.record.seq for r in records for sha in r.record.dropped_sha256}
    for entry in _manifest_list(manifest, "evidence"):
        if not isinstance(entry, dict):
            report.error("manifest.json", f"evidence entry {entry!r} is not an object")
            continue
        sha256, name = str(entry.get("sha256")), entry.get("file")
        if sha256 not in listed:
            report.error(f"evidence {sha256}", "not listed by any chain record of the case")
        if name is None:
            if sha256 in dropped:
                report.notice(
                    f"evidence {sha256}", f"dropped unsent, recorded by seq {dropped[sha256]}"
                )
            else:
                report.error(f"evidence {sha256}", "not included and not recorded as dropped")
            continue
        data = files.get(str(name))
        if data is None:
            report.error(str(name), "listed in the manifest but missing from the package")
            continue
        report.count("evidence files")
        actual = _sha(data)
        if actual != sha256:
            report.error(str(name), f"hashes to {actual}, expected {sha256}")
    return report


def keys_from_files(paths: Iterable[Path]) -> dict[str, Ed25519PublicKey]:
    """Public keys (PEM or base64) read from files, by key id.

    Raises:
        ChainError: A file is unreadable or holds no Ed25519 public key.
    """
    keys: dict[str, Ed25519PublicKey] = {}
    for path in paths:
        try:
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise ChainError(f"{path}: cannot read the public key ({exc})") from exc
        try:
            key = public_key_from_text(text)
        except ChainError as exc:
            raise ChainError(f"{path}: {exc}") from exc
        keys[key_id_of(key)] = key
    return keys
