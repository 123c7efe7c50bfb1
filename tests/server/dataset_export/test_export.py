"""``dataset export`` on SQLite and PostgreSQL: real ingest, real verdicts, real files."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy.orm import Session, sessionmaker

from civicwatch.cli import main
from contracts.events import EvidenceKind
from server import crud
from server.dataset_export.writer import ExportError, export_dataset
from server.evidence_store import EvidenceStore
from server.ingest import IngestContext, IngestMetrics, dispatch
from server.review_labels.model import BoxAction, BoxEdit, LabelBox, StructuredReason
from server.review_labels.service import edit_boxes, record_reason
from server.tables import ReviewVerdict
from tests.server import builders as b
from tests.server.conftest import NOW
from tests.server.dataset_export.test_phash import encode, scene


def ingest_case(
    factory: sessionmaker[Session],
    context: IngestContext,
    n: int,
    *,
    camera: str,
    image: bytes,
    hours: float,
) -> tuple[int, str]:
    """A case from a real ingest of a clean frame and a start event; (case id, frame sha)."""
    frame = b.item(image, EvidenceKind.FRAME)
    first = b.T0 + timedelta(hours=hours)
    ev = b.event(
        event_id=f"{n:032x}",
        camera_id=camera,
        evidence=[frame.ref],
        first_seen=first,
        last_seen=first + timedelta(seconds=40),
        sent_at=first + timedelta(seconds=41),
    )
    for topic, payload, kind in (
        (b.evidence_topic(frame), frame.data, "image/jpeg"),
        (b.event_topic(ev), ev.to_json(), "application/json"),
    ):
        outcome = dispatch(
            factory,
            topic,
            payload,
            b.props(kind),
            context=context,
            metrics=IngestMetrics(),
            now=NOW,
        )
        assert outcome.accepted, outcome
    with factory() as session:
        case = crud.get_case_by_event_id(session, event_id=ev.event_id)
        assert case is not None
        return case.id, frame.sha256


def review(
    factory: sessionmaker[Session],
    case_id: int,
    verdict: ReviewVerdict,
    *,
    reason: str | None = None,
    structured: dict[str, object] | None = None,
    edits: tuple[BoxEdit, ...] = (),
) -> None:
    with factory() as session:
        case = crud.get_case(session, case_id=case_id)
        assert case is not None
        for edit in edits:
            edit_boxes(session, case=case, edit=edit, reviewer="li", now=NOW)
        crud.review_case(session, case=case, verdict=verdict, reason=reason, reviewer="li", now=NOW)
        if structured is not None:
            record_reason(
                session,
                case=case,
                review=case.reviews[-1],
                reason=StructuredReason.model_validate(structured),
                now=NOW,
            )
        session.commit()


@pytest.fixture
def seeded(
    session_factory: sessionmaker[Session], context: IngestContext, store: EvidenceStore
) -> dict[str, int]:
    """Eight reviewed cases on two cameras, each meant to exercise one export rule."""
    ids: dict[str, int] = {}
    shas: dict[str, str] = {}
    specs = [
        ("confirmed", "cam-1", 1, 0.0),
        ("wrong", "cam-1", 2, 1.0),
        ("duplicate", "cam-1", 3, 2.0),
        ("free_text", "cam-2", 4, 0.5),
        ("corrupt", "cam-2", 5, 1.5),
        ("missing", "cam-2", 6, 2.5),
        ("near_duplicate", "cam-1", 1, 3.0),  # the same scene as "confirmed", re-captured
        ("lawful", "cam-2", 8, 3.5),
    ]
    for n, (name, camera, seed, hours) in enumerate(specs, start=1):
        quality = 70 if name == "near_duplicate" else 85
        ids[name], shas[name] = ingest_case(
            session_factory,
            context,
            n,
            camera=camera,
            image=encode(scene(seed), quality),
            hours=hours,
        )
    add = BoxEdit(
        action=BoxAction.ADD,
        box=LabelBox(x1=0.5, y1=0.5, x2=0.7, y2=0.9),
        class_name="goods",
    )
    fix = BoxEdit(
        action=BoxAction.FIX,
        box_id="detected",
        box=LabelBox(x1=0.12, y1=0.2, x2=0.32, y2=0.6),
    )
    review(session_factory, ids["confirmed"], ReviewVerdict.CONFIRM, edits=(fix, add))
    review(
        session_factory,
        ids["wrong"],
        ReviewVerdict.REJECT,
        structured={"code": "wrong_object", "box_id": "detected", "really_is": "person"},
    )
    review(
        session_factory,
        ids["duplicate"],
        ReviewVerdict.REJECT,
        structured={"code": "duplicate", "duplicate_of": ids["confirmed"]},
    )
    review(session_factory, ids["free_text"], ReviewVerdict.REJECT, reason="nope")
    for name in ("corrupt", "missing", "near_duplicate"):
        review(session_factory, ids[name], ReviewVerdict.CONFIRM)
    review(
        session_factory,
        ids["lawful"],
        ReviewVerdict.REJECT,
        structured={"code": "not_a_violation", "detail": "licensed"},
    )
    store.path_for(shas["corrupt"]).write_bytes(b"flipped bits")
    store.path_for(shas["missing"]).unlink()
    return ids


def _manifest(out: Path) -> dict[int, dict[str, object]]:
    lines = (out / "manifest.jsonl").read_text().splitlines()
    return {int(e["case_id"]): e for e in map(json.loads, lines)}


def test_export_writes_labels_negatives_and_lists_what_it_left_out(
    session_factory: sessionmaker[Session],
    store: EvidenceStore,
    seeded: dict[str, int],
    tmp_path: Path,
) -> None:
    out = tmp_path / "export"
    summary = export_dataset(session_factory, store, out)
    manifest = _manifest(out)
    assert set(manifest) == {seeded["confirmed"], seeded["wrong"], seeded["lawful"]}
    skipped = {s.case_id: s.reason for s in summary.skipped}
    assert "duplicate of case" in skipped[seeded["duplicate"]]
    assert "free text only" in skipped[seeded["free_text"]]
    assert "is corrupt" in skipped[seeded["corrupt"]]
    assert "missing" in skipped[seeded["missing"]]
    assert f"near-duplicate of case {seeded['confirmed']}" in skipped[seeded["near_duplicate"]]

    confirmed = manifest[seeded["confirmed"]]
    labels = (out / str(confirmed["label_file"])).read_text().splitlines()
    assert labels == [
        "3 0.220000 0.400000 0.200000 0.400000",  # the stall, as the reviewer moved it
        "4 0.600000 0.700000 0.200000 0.400000",  # the goods the reviewer added
    ]
    assert (out / str(confirmed["image"])).read_bytes() == store.read(
        str(confirmed["evidence_sha256"])
    )
    assert confirmed["verdict"] == "confirmed" and confirmed["reviewer"] == "li"
    assert confirmed["judged"] == ["stall", "goods"]
    assert confirmed["model"] == {"name": "civicwatch-yolo11n", "version": "1", "sha256": "ab" * 32}

    wrong = manifest[seeded["wrong"]]
    assert wrong["kind"] == "hard_negative" and wrong["reason"] == "wrong_object"
    assert (out / str(wrong["label_file"])).read_text().split()[0] == "0"  # relabelled person
    assert wrong["judged"] == ["person", "stall"]
    lawful = manifest[seeded["lawful"]]
    assert lawful["kind"] == "positive" and lawful["reason_detail"] == "licensed"

    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data["path"] == str(out.resolve()) and data["names"][3] == "stall"
    assert sum(summary.frames.values()) == 3
    assert json.loads((out / "export.json").read_text())["near_duplicate_bits"] == 16
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".export.partial")]


def test_filters_and_a_refused_existing_out(
    session_factory: sessionmaker[Session],
    store: EvidenceStore,
    seeded: dict[str, int],
    tmp_path: Path,
) -> None:
    from server.dataset_export.writer import ExportFilter

    only_rejected = export_dataset(
        session_factory,
        store,
        tmp_path / "rejected",
        filt=ExportFilter(outcomes=frozenset({"rejected"}), camera_id="cam-1"),
    )
    assert set(_manifest(tmp_path / "rejected")) == {seeded["wrong"]}
    assert sum(only_rejected.frames.values()) == 1
    since = export_dataset(
        session_factory,
        store,
        tmp_path / "late",
        filt=ExportFilter(since=b.T0 + timedelta(hours=3.2)),
    )
    assert set(_manifest(tmp_path / "late")) == {seeded["lawful"]}
    assert sum(since.frames.values()) == 1
    with pytest.raises(ExportError, match="exists and is not empty"):
        export_dataset(session_factory, store, tmp_path / "late")
    (tmp_path / "empty").mkdir()
    export_dataset(session_factory, store, tmp_path / "empty")
    assert (tmp_path / "empty" / "manifest.jsonl").is_file()


def test_the_command(
    db_url: str,
    seeded: dict[str, int],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "server.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database_url": db_url,
                "evidence_dir": str(tmp_path / "evidence"),
                "mqtt_enabled": False,
            }
        )
    )
    out = tmp_path / "cli-export"
    assert main(["dataset", "export", "--out", str(out), "--config", str(config)]) == 0
    printed = capsys.readouterr().out
    assert "exported 3 frames" in printed and "is corrupt" in printed
    assert main(["dataset", "export", "--out", str(out), "--config", str(config)]) == 2
    assert "exists and is not empty" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["dataset", "export", "--out", str(tmp_path / "x"), "--since", "2026-01-01"])
    assert "needs a time zone" in capsys.readouterr().err
