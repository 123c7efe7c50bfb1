"""The case file chain: a per-case hash chain over every transition and disposal.

Each record's ``record_hash`` is the sha256 of the canonical JSON
(:func:`contracts.chain.canonical_json`) of ``{case_id, seq, prev_hash, kind, at, actor,
payload}``; ``prev_hash`` is the previous record's hash (:data:`GENESIS` for the first).
A disposal record's payload lists its photos' sha256, so the chain also proves the photo
bytes. :func:`verify_chain` is pure: it takes the records and what the store said about
each photo, and says whether the file of the case is intact and, if not, where it breaks.

Example:
    >>> record = link(case_id=1, seq=0, prev_hash=GENESIS, kind="confirm", at=now,
    ...               actor="ana", payload={})  # doctest: +SKIP
    >>> verify_chain(1, [record], photos={}).ok  # doctest: +SKIP
    True
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from contracts.chain import canonical_json

GENESIS: Final[str] = "0" * 64
"""The ``prev_hash`` of a case's first record."""

DISPOSAL_KIND: Final[str] = "disposal"
"""The kind of a disposal record (transition records carry their action)."""


@dataclass(frozen=True, slots=True)
class FileRecord:
    """One record of a case's file chain, as stored."""

    case_id: int
    seq: int
    prev_hash: str
    record_hash: str
    kind: str
    at: datetime
    actor: str
    payload: Mapping[str, Any]


class PhotoState(StrEnum):
    """What the evidence store holds for a photo a record lists."""

    OK = "ok"  # the bytes are there and hash to their name
    MISSING = "missing"
    CORRUPT = "corrupt"


@dataclass(frozen=True, slots=True)
class ChainVerification:
    """The verdict on a case's file chain.

    Attributes:
        ok: Every record links and hashes, and every listed photo is intact.
        records: How many records were checked.
        head: The last record's hash (``None`` for an empty chain).
        problems: What is wrong, one line each, in record order.
    """

    ok: bool
    records: int
    head: str | None
    problems: list[str]


def _instant(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def record_hash(
    *,
    case_id: int,
    seq: int,
    prev_hash: str,
    kind: str,
    at: datetime,
    actor: str,
    payload: Mapping[str, Any],
) -> str:
    """The sha256 of a record's canonical JSON."""
    document = {
        "case_id": case_id,
        "seq": seq,
        "prev_hash": prev_hash,
        "kind": kind,
        "at": _instant(at),
        "actor": actor,
        "payload": dict(payload),
    }
    return hashlib.sha256(canonical_json(document)).hexdigest()


def link(
    *,
    case_id: int,
    seq: int,
    prev_hash: str,
    kind: str,
    at: datetime,
    actor: str,
    payload: Mapping[str, Any],
) -> FileRecord:
    """A new record after ``prev_hash``, with its hash."""
    digest = record_hash(
        case_id=case_id,
        seq=seq,
        prev_hash=prev_hash,
        kind=kind,
        at=at,
        actor=actor,
        payload=payload,
    )
    return FileRecord(
        case_id=case_id,
        seq=seq,
        prev_hash=prev_hash,
        record_hash=digest,
        kind=kind,
        at=at,
        actor=actor,
        payload=payload,
    )


def listed_photos(record: FileRecord) -> list[str]:
    """The photo hashes a record's payload lists."""
    photos = record.payload.get("photos", [])
    if not isinstance(photos, list):
        return []
    return [str(item["sha256"]) for item in photos if isinstance(item, dict) and "sha256" in item]


def verify_chain(
    case_id: int, records: Sequence[FileRecord], *, photos: Mapping[str, PhotoState]
) -> ChainVerification:
    """Recompute every hash and link of a case's chain and check its photos.

    Args:
        case_id: The case the chain must belong to.
        records: The records in ``seq`` order.
        photos: What the store holds for each photo hash the records list (one missing
            from the mapping counts as missing).
    """
    problems: list[str] = []
    previous = GENESIS
    for expected_seq, record in enumerate(records):
        where = f"record {record.seq}"
        if record.case_id != case_id:
            problems.append(f"{where} belongs to case {record.case_id}, not {case_id}")
        if record.seq != expected_seq:
            problems.append(f"{where} is at position {expected_seq} (a record is missing)")
        if record.prev_hash != previous:
            problems.append(f"{where} does not link to the record before it")
        recomputed = record_hash(
            case_id=record.case_id,
            seq=record.seq,
            prev_hash=record.prev_hash,
            kind=record.kind,
            at=record.at,
            actor=record.actor,
            payload=record.payload,
        )
        if recomputed != record.record_hash:
            problems.append(f"{where} ({record.kind}) was changed: its hash does not match")
        for sha256 in listed_photos(record):
            state = photos.get(sha256, PhotoState.MISSING)
            if state is not PhotoState.OK:
                problems.append(f"{where} lists photo {sha256}, which is {state.value}")
        previous = record.record_hash
    return ChainVerification(
        ok=not problems,
        records=len(records),
        head=records[-1].record_hash if records else None,
        problems=problems,
    )
