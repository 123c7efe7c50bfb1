"""Reading the lifecycle back: transitions, disposals, the verified file chain, photo owners."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.evidence_store import (
    EvidenceBackend,
    EvidenceBackendError,
    EvidenceCorruptError,
    EvidenceMissingError,
)
from server.lifecycle.file_chain import (
    ChainVerification,
    FileRecord,
    PhotoState,
    listed_photos,
    verify_chain,
)
from server.lifecycle.records import transition_payload
from server.lifecycle.tables import (
    CaseDisposal,
    CaseDisposalPhoto,
    CaseFileRecord,
    CaseTransition,
)

logger = logging.getLogger(__name__)


def transitions(session: Session, *, case_id: int) -> list[CaseTransition]:
    return list(
        session.scalars(
            select(CaseTransition)
            .where(CaseTransition.case_id == case_id)
            .order_by(CaseTransition.id)
        )
    )


@dataclass(frozen=True, slots=True)
class Disposal:
    """A disposal with its photos."""

    row: CaseDisposal
    photos: list[CaseDisposalPhoto]


def disposals(session: Session, *, case_id: int) -> list[Disposal]:
    rows = list(
        session.scalars(
            select(CaseDisposal).where(CaseDisposal.case_id == case_id).order_by(CaseDisposal.id)
        )
    )
    photos: dict[int, list[CaseDisposalPhoto]] = {row.id: [] for row in rows}
    if rows:
        for photo in session.scalars(
            select(CaseDisposalPhoto)
            .where(CaseDisposalPhoto.disposal_id.in_(list(photos)))
            .order_by(CaseDisposalPhoto.id)
        ):
            photos[photo.disposal_id].append(photo)
    return [Disposal(row=row, photos=photos[row.id]) for row in rows]


def photo_cases(session: Session, *, sha256: str) -> list[tuple[int, str]]:
    """The ``(case_id, content_type)`` of every disposal photo with this hash."""
    rows = session.execute(
        select(CaseDisposal.case_id, CaseDisposalPhoto.content_type)
        .join(CaseDisposal, CaseDisposal.id == CaseDisposalPhoto.disposal_id)
        .where(CaseDisposalPhoto.sha256 == sha256)
    ).all()
    return [(row.case_id, row.content_type) for row in rows]


def file_records(session: Session, *, case_id: int) -> list[CaseFileRecord]:
    return list(
        session.scalars(
            select(CaseFileRecord)
            .where(CaseFileRecord.case_id == case_id)
            .order_by(CaseFileRecord.seq)
        )
    )


def _as_record(row: CaseFileRecord) -> FileRecord:
    return FileRecord(
        case_id=row.case_id,
        seq=row.seq,
        prev_hash=row.prev_hash,
        record_hash=row.record_hash,
        kind=row.kind,
        at=row.at,
        actor=row.actor,
        payload=row.payload,
    )


def photo_states(store: EvidenceBackend, hashes: Sequence[str]) -> dict[str, PhotoState]:
    """Re-read every photo and check its bytes against its hash."""
    states: dict[str, PhotoState] = {}
    for sha256 in dict.fromkeys(hashes):
        try:
            store.read(sha256)
        except EvidenceMissingError:
            states[sha256] = PhotoState.MISSING
        except (EvidenceCorruptError, EvidenceBackendError) as exc:
            logger.error("disposal photo %s fails its check: %s", sha256, exc)
            states[sha256] = PhotoState.CORRUPT
        else:
            states[sha256] = PhotoState.OK
    return states


def compare_transitions(
    records: Sequence[FileRecord], expected: Mapping[int, dict[str, Any]]
) -> list[str]:
    """Problems where a transition row no longer matches what its file record holds.

    Args:
        records: The chain.
        expected: Each transition row's payload (:func:`transition_payload`) by its id.
    """
    problems = []
    recorded: set[int] = set()
    for record in records:
        transition_id = record.payload.get("transition_id")
        if not isinstance(transition_id, int):
            continue
        recorded.add(transition_id)
        if expected.get(transition_id) != dict(record.payload):
            problems.append(f"transition {transition_id} differs from its file record {record.seq}")
    for transition_id in sorted(set(expected) - recorded):
        problems.append(f"transition {transition_id} has no file record")
    return problems


def verify_case_file(
    session: Session, *, case_id: int, store: EvidenceBackend
) -> tuple[list[CaseFileRecord], ChainVerification]:
    """The case's file records and their verification (hashes, links, photos, transitions)."""
    rows = file_records(session, case_id=case_id)
    records = [_as_record(row) for row in rows]
    hashes = [sha256 for record in records for sha256 in listed_photos(record)]
    verdict = verify_chain(case_id, records, photos=photo_states(store, hashes))
    expected = {row.id: transition_payload(row) for row in transitions(session, case_id=case_id)}
    extra = compare_transitions(records, expected)
    if extra:
        verdict = ChainVerification(
            ok=False, records=verdict.records, head=verdict.head, problems=verdict.problems + extra
        )
    return rows, verdict
