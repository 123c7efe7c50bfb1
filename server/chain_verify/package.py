"""Offline verification of a case package: nothing but the package (and, if given, keys).

The package is what :func:`server.chain_verify.export.export_case` writes. Every hash is
recomputed from the packaged bytes; the report names each member that does not match.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from contracts.chain import (
    ChainError,
    ChainRecord,
    SignedChainRecord,
    key_id_of,
    public_key_from_text,
    verify_records,
)
from server.chain_verify.report import VerifyReport, first_error, sha256_hex

_MISSING = "listed in the manifest but missing from the package"


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


def _package_keys(
    manifest: Mapping[str, Any],
    trusted_keys: Mapping[str, Ed25519PublicKey] | None,
    report: VerifyReport,
) -> dict[str, Ed25519PublicKey]:
    """The keys to verify with: the trusted ones if given, else those in the package."""
    keys: dict[str, Ed25519PublicKey] = {}
    packaged = manifest.get("keys")
    for key_id, text in (packaged if isinstance(packaged, dict) else {}).items():
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
        return dict(trusted_keys)
    report.notice(
        "keys",
        f"verified with the key(s) inside the package ({', '.join(sorted(keys)) or 'none'});"
        " compare them with the server's registry (civicwatch keys list) or pass "
        "--public-key",
    )
    return keys


def _package_records(
    manifest: Mapping[str, Any], files: Mapping[str, bytes], report: VerifyReport
) -> list[SignedChainRecord]:
    records: list[SignedChainRecord] = []
    for name in _manifest_list(manifest, "records"):
        data = files.get(str(name))
        if data is None:
            report.error(str(name), _MISSING)
            continue
        try:
            records.append(SignedChainRecord.from_json(data))
        except ValidationError as exc:
            report.error(str(name), f"record does not parse ({first_error(exc)})")
    report.count("records", len(records))
    return records


def _check_events(
    manifest: Mapping[str, Any],
    files: Mapping[str, bytes],
    own: list[ChainRecord],
    edge_id: str,
    report: VerifyReport,
) -> None:
    """Every packaged event message is fixed by a record of the case, and vice versa."""
    fixed = {r.event_sha256: r for r in own if r.event_sha256 is not None}  # not clip records
    seen_events: set[str] = set()
    for entry in _manifest_list(manifest, "events"):
        name = str(entry.get("file")) if isinstance(entry, dict) else str(entry)
        data = files.get(name)
        if data is None:
            report.error(name, _MISSING)
            continue
        report.count("event messages")
        actual = sha256_hex(data)
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


def _check_evidence(
    manifest: Mapping[str, Any],
    files: Mapping[str, bytes],
    own: list[ChainRecord],
    records: list[SignedChainRecord],
    report: VerifyReport,
) -> None:
    """Every packaged evidence item is listed by the case's records and intact, or dropped."""
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
            report.error(str(name), _MISSING)
            continue
        report.count("evidence files")
        actual = sha256_hex(data)
        if actual != sha256:
            report.error(str(name), f"hashes to {actual}, expected {sha256}")


def verify_package(
    path: Path, *, trusted_keys: Mapping[str, Ed25519PublicKey] | None = None
) -> VerifyReport:
    """Verify an exported case package without the server or its database.

    Args:
        path: The ``.zip`` file or directory written by
            :func:`server.chain_verify.export.export_case`.
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
    keys = _package_keys(manifest, trusted_keys, report)
    records = _package_records(manifest, files, report)
    first_seq = min((r.record.seq for r in records), default=1)
    report.findings.extend(verify_records(records, keys, complete=first_seq == 1))
    own = [r.record for r in records if r.record.event_id == event_id]
    if not own:
        report.error(f"case event {event_id}", "no record in the package names the case")
    for record in own:
        if record.edge_id != edge_id:
            report.error(f"seq {record.seq}", f"record edge {record.edge_id}, case edge {edge_id}")
    _check_events(manifest, files, own, edge_id, report)
    _check_evidence(manifest, files, own, records, report)
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
