"""Retention keeps what other features store in the evidence store (SQLite and PostgreSQL).

Bytes are kept while a row of :data:`server.retention.HOLDERS` names them: case evidence
(clips too), disposal photos, camera snapshots, zone versions' reference snapshots, model
files. A case deleted by retention takes its evidence and disposal photos with it, unless
another row names the same bytes. The API-level retention test (holds, the CLI) is
tests/security/test_retention.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Column, select, update
from sqlalchemy.orm import Session, sessionmaker

from contracts.chain import event_digest
from contracts.events import EvidenceKind
from server import crud
from server.all_tables import Base
from server.cameras.tables import CameraSnapshot, ZoneVersion
from server.core.config import RetentionSettings
from server.evidence_store import EvidenceStore
from server.lifecycle.tables import CaseDisposal, CaseDisposalPhoto
from server.org.tables import Camera
from server.org.units import load_units
from server.retention import HOLDERS, apply_retention
from server.rollout.tables import ModelFileRow
from server.tables import Case, CaseEvidence, CaseStatus, Evidence
from tests.server import builders as b
from tests.server.conftest import NOW

UNITS = Path(__file__).resolve().parents[2] / "configs" / "units.yaml"
LATER = NOW + timedelta(days=100)
REJECTED = RetentionSettings(rejected_days=30)
ORPHANS = RetentionSettings(orphan_evidence_days=1)


@dataclass(frozen=True)
class Blob:
    """Bytes in the store, under their hash."""

    data: bytes

    @property
    def sha256(self) -> str:
        return b.sha(self.data)


def _blob(store: EvidenceStore, seed: int) -> Blob:
    blob = Blob(b.jpeg(seed))
    store.write(blob.sha256, blob.data)
    return blob


def _evidence_row(session: Session, blob: Blob) -> None:
    crud.add_evidence(
        session,
        sha256=blob.sha256,
        content_type="image/jpeg",
        byte_size=len(blob.data),
        edge_id="edge-1",
        received_at=NOW,
    )


def _case(session: Session, event_id: str, evidence: list[Blob], *, rejected: bool) -> int:
    refs = [b.item(blob.data, EvidenceKind.FRAME).ref for blob in evidence]
    event = b.event(event_id=event_id, evidence=refs)
    done = crud.upsert_event(
        session,
        event=event,
        payload=b.as_dict(event),
        payload_sha256=event_digest(event),
        received_at=NOW,
    )
    if rejected:
        session.execute(
            update(Case)
            .where(Case.id == done.case_id)
            .values(status=CaseStatus.REJECTED, reviewed_at=NOW)
        )
    return done.case_id


def _disposal(session: Session, case_id: int, photos: list[Blob]) -> None:
    disposal = CaseDisposal(case_id=case_id, unit_id=None, note="cleared", by="team", at=NOW)
    session.add(disposal)
    session.flush()
    for blob in photos:
        session.add(
            CaseDisposalPhoto(
                disposal_id=disposal.id,
                sha256=blob.sha256,
                content_type="image/jpeg",
                byte_size=len(blob.data),
                width=64,
                height=48,
            )
        )


def _camera(session_factory: sessionmaker[Session]) -> int:
    load_units(session_factory, UNITS, now=NOW)
    with session_factory() as session:
        camera = session.scalars(select(Camera).order_by(Camera.id)).first()
        assert camera is not None
        return camera.id


def _snapshot(session: Session, camera_pk: int, blob: Blob) -> None:
    session.add(
        CameraSnapshot(
            camera_pk=camera_pk,
            sha256=blob.sha256,
            width=64,
            height=48,
            captured_at=NOW,
            received_at=NOW,
        )
    )


def _zone_reference(session: Session, camera_pk: int, blob: Blob) -> None:
    session.add(
        ZoneVersion(
            camera_pk=camera_pk,
            version=1,
            zones_yaml="zones: []\n",
            author="adam",
            created_at=NOW,
            reference_sha256=blob.sha256,
        )
    )


def _model_file(session: Session, blob: Blob) -> None:
    session.add(
        ModelFileRow(
            sha256=blob.sha256,
            name="yolo",
            version="2",
            size_bytes=len(blob.data),
            registered_by="adam",
            registered_at=NOW,
        )
    )


def test_a_deleted_case_takes_its_evidence_and_photos_but_not_bytes_others_hold(
    session_factory: sessionmaker[Session], store: EvidenceStore
) -> None:
    camera_pk = _camera(session_factory)
    own_evidence, snapped = _blob(store, 1), _blob(store, 2)
    own_photo, shared_photo, reference_photo = _blob(store, 3), _blob(store, 4), _blob(store, 5)
    kept_evidence = _blob(store, 6)
    with session_factory() as session, session.begin():
        for blob in (own_evidence, snapped, kept_evidence):
            _evidence_row(session, blob)
        doomed = _case(session, "a" * 32, [own_evidence, snapped], rejected=True)
        kept = _case(session, "b" * 32, [kept_evidence], rejected=False)
        _disposal(session, doomed, [own_photo, shared_photo, reference_photo])
        _disposal(session, kept, [shared_photo])
        _snapshot(session, camera_pk, snapped)  # the edge sent the same frame as a snapshot
        _zone_reference(session, camera_pk, reference_photo)

    dry = apply_retention(session_factory, store, REJECTED, now=LATER, dry_run=True)
    assert (dry.cases_deleted, dry.evidence_deleted) == (1, 2)
    assert store.exists(own_evidence.sha256) and store.exists(own_photo.sha256)

    report = apply_retention(session_factory, store, REJECTED, now=LATER)
    assert report.case_ids == [doomed]
    assert report.evidence_deleted == 2
    assert report.bytes_freed == len(own_evidence.data) + len(own_photo.data)
    assert not store.exists(own_evidence.sha256)
    assert not store.exists(own_photo.sha256)
    for blob in (snapped, shared_photo, reference_photo, kept_evidence):
        assert store.exists(blob.sha256)
    with session_factory() as session:
        assert session.get(Case, doomed) is None
        assert session.get(Evidence, own_evidence.sha256) is None
        assert session.get(Evidence, snapped.sha256) is not None
        photos = session.scalars(select(CaseDisposalPhoto.sha256)).all()
        assert photos == [shared_photo.sha256]  # the deleted case's disposal went with it
        assert session.scalars(select(CaseDisposal.case_id)).all() == [kept]


def test_a_photo_two_deleted_cases_share_goes_with_the_last_of_them(
    session_factory: sessionmaker[Session], store: EvidenceStore
) -> None:
    photo = _blob(store, 7)
    with session_factory() as session, session.begin():
        first = _case(session, "c" * 32, [], rejected=True)
        second = _case(session, "d" * 32, [], rejected=True)
        _disposal(session, first, [photo])
        _disposal(session, second, [photo])
    report = apply_retention(session_factory, store, REJECTED, now=LATER)
    assert sorted(report.case_ids) == sorted([first, second])
    assert (report.evidence_deleted, report.bytes_freed) == (1, len(photo.data))
    assert not store.exists(photo.sha256)


@pytest.mark.parametrize("holder", ["clip", "camera snapshot", "zone reference", "model file"])
def test_the_orphan_sweep_keeps_bytes_a_holder_names(
    session_factory: sessionmaker[Session], store: EvidenceStore, holder: str
) -> None:
    camera_pk = _camera(session_factory)
    held, orphan = _blob(store, 8), _blob(store, 9)
    with session_factory() as session, session.begin():
        _evidence_row(session, held)
        _evidence_row(session, orphan)
        if holder == "clip":
            case_id = _case(session, "e" * 32, [], rejected=False)
            session.add(
                CaseEvidence(
                    case_id=case_id,
                    sha256=held.sha256,
                    kind="clip",
                    content_type="video/mp4",
                    byte_size=len(held.data),
                    captured_at=NOW,
                )
            )
        elif holder == "camera snapshot":
            _snapshot(session, camera_pk, held)
        elif holder == "zone reference":
            _zone_reference(session, camera_pk, held)
        else:
            _model_file(session, held)
    report = apply_retention(session_factory, store, ORPHANS, now=LATER)
    assert (report.cases_deleted, report.evidence_deleted) == (0, 1)
    assert report.bytes_freed == len(orphan.data)
    assert store.exists(held.sha256) and not store.exists(orphan.sha256)
    with session_factory() as session:
        assert session.scalars(select(Evidence.sha256)).all() == [held.sha256]


def test_the_orphan_sweep_with_nothing_stored_deletes_nothing(
    session_factory: sessionmaker[Session], store: EvidenceStore
) -> None:
    report = apply_retention(session_factory, store, ORPHANS, now=LATER)
    assert (report.cases_deleted, report.evidence_deleted, report.bytes_freed) == (0, 0, 0)


NOT_STORED_BYTES = {
    # columns named like a content hash whose rows keep nothing in the evidence store
    "cases.model_sha256",  # the detector model's hash, as the event reported it
    "case_events.payload_sha256",  # the event message's digest (the message is a row)
    "evidence.sha256",  # the stored bytes' own row (what the sweep deletes)
    "chain_records.event_sha256",  # what a chain record fixes: a claim, not a holder
    "chain_evidence.sha256",
    "quarantined_events.payload_sha256",  # evidence it waits for: server.retention._awaited
    "api_tokens.token_sha256",
    "label_boxes.frame_sha256",  # edits of a case's frame: go with the case
    "model_assignments.sha256",  # refer to model_files, which holds the bytes
    "model_assignments.previous_sha256",
    "model_assignments.reported_sha256",
    "model_assignment_log.sha256",
}


def test_every_hash_column_is_a_holder_or_said_not_to_hold_bytes() -> None:
    """A feature that stores bytes under a new column must add it to HOLDERS (or here)."""
    holders = set()
    for holder in HOLDERS:
        column = holder.rows.selected_columns[0]
        assert isinstance(column, Column)
        holders.add(f"{column.table.name}.{column.name}")
    hashes = {
        f"{table.name}.{column.name}"
        for table in Base.metadata.tables.values()
        for column in table.columns
        if column.name.endswith("sha256")
    }
    assert holders <= hashes
    assert hashes - holders == NOT_STORED_BYTES, (
        "classify the new hash column: a holder in server.retention.HOLDERS, or here"
    )
