"""Case packages: one case's chain, messages, evidence and keys, verifiable offline.

A package (:func:`export_case`) is a zip file or directory holding ``manifest.json``,
the case's signed chain records and every record between them (``records/``), its event
messages in canonical JSON (``events/``), its evidence bytes (``evidence/``) and the
edge's public keys, so a third party can check it with
:func:`server.chain_verify.package.verify_package` alone.
"""

from __future__ import annotations

import json
import logging
import zipfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy.orm import Session

from contracts.chain import canonical_json, public_key_to_text
from server import chain_store, crud
from server.chain_verify.database import case_segment, dropped_of_edge
from server.evidence_store import EvidenceBackend, EvidenceCorruptError

logger = logging.getLogger(__name__)

PACKAGE_VERSION: Final[int] = 1
_EXTENSIONS: Final[dict[str, str]] = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "application/json": "json",
}


def export_case(
    session: Session, store: EvidenceBackend, *, case_id: int, out: Path, now: datetime
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
    segment = [row for row in case_segment(session, case).span if row.verified]
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
    dropped = dropped_of_edge(session, case.edge_id)
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
            except EvidenceCorruptError as exc:
                logger.error("case %d: %s; not exported", case_id, exc)
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
    _write(out, files)
    logger.info("exported case %d (%d records) to %s", case_id, len(record_names), out)
    return out


def _write(out: Path, files: Mapping[str, bytes]) -> None:
    """Write the package's files into a new zip file or an empty (or new) directory."""
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
