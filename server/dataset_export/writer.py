"""Write the dataset: read reviewed cases and their frames, check hashes, write YOLO files.

Everything is written into a temporary folder beside ``out`` and renamed to ``out`` at the
end, so a crash or an error leaves no half-written dataset where training would look.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from server.dataset_export.phash import ImageDecodeError, dhash
from server.dataset_export.plan import (
    NEAR_DUPLICATE_BITS,
    Folder,
    FramePlan,
    ReviewedCase,
    Skipped,
    Split,
    SplitPolicy,
    plan_case,
)
from server.evidence_store import EvidenceBackend, EvidenceCorruptError, EvidenceMissingError
from server.review_labels.model import MODEL_CLASSES
from server.review_labels.service import labels_for_cases
from server.tables import Case, CaseReview, CaseStatus

logger = logging.getLogger(__name__)

FINAL = frozenset({CaseStatus.CONFIRMED, CaseStatus.REJECTED})
CHUNK = 200


class ExportError(RuntimeError):
    """The export cannot start (the output folder exists and is not empty)."""


@dataclass(frozen=True, slots=True)
class ExportFilter:
    """Which reviewed cases to export (``None``: no filter)."""

    since: datetime | None = None
    camera_id: str | None = None
    outcomes: frozenset[str] = frozenset({"confirmed", "rejected"})


class ModelOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    version: str
    sha256: str


class ManifestEntry(BaseModel):
    """One written frame (a line of ``manifest.jsonl``)."""

    model_config = ConfigDict(frozen=True)

    case_id: int
    event_id: str
    edge_id: str
    camera_id: str
    first_seen: datetime
    evidence_sha256: str
    image: str = Field(description="Path of the image, relative to the export.")
    label_file: str
    split: Split
    group: str = Field(description="Camera and time block; a group is in one split only.")
    kind: str = Field(description="positive or hard_negative.")
    labels: int
    judged: list[str] = Field(
        description="Classes the labels speak for; other objects in the frame were not judged."
    )
    verdict: str
    reason: str | None = Field(description="The structured reason code (null: confirmed).")
    reason_detail: str | None
    reason_text: str | None
    reviewer: str | None
    model: ModelOut
    dhash: str


class SkippedOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    case_id: int
    camera_id: str
    evidence_sha256: str | None
    reason: str


class ExportSummary(BaseModel):
    """What an export wrote (``export.json``) and what it left out, and why."""

    model_config = ConfigDict(frozen=True)

    out: str
    names: list[str]
    frames: dict[str, int] = Field(description="Written frames per split.")
    kinds: dict[str, int] = Field(description="Written frames per kind.")
    labels: int
    block_hours: float
    near_duplicate_bits: int
    skipped: list[SkippedOut]

    def text(self) -> str:
        lines = [
            f"exported {sum(self.frames.values())} frames to {self.out}: "
            + ", ".join(f"{k} {v}" for k, v in sorted(self.frames.items()))
            + f"; {self.labels} labels; "
            + ", ".join(f"{k} {v}" for k, v in sorted(self.kinds.items())),
        ]
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)}:")
            lines += [f"  case {s.case_id} ({s.camera_id}): {s.reason}" for s in self.skipped]
        return "\n".join(lines)


def _outcome(reviews: Sequence[CaseReview]) -> CaseReview | None:
    """The last verdict that decided the case (confirm or reject), else the last one."""
    final = [r for r in reviews if r.status_after in FINAL]
    if final:
        return final[-1]
    return reviews[-1] if reviews else None


def reviewed_cases(session: Session, filt: ExportFilter) -> Iterator[ReviewedCase]:
    """Every reviewed case matching ``filt``, in chunks (events, evidence, labels loaded)."""
    last_id = 0
    while True:
        query = (
            select(Case)
            .where(Case.id > last_id, Case.reviews.any())
            .order_by(Case.id)
            .limit(CHUNK)
            .options(
                selectinload(Case.events), selectinload(Case.evidence), selectinload(Case.reviews)
            )
        )
        if filt.since is not None:
            query = query.where(Case.first_seen >= filt.since)
        if filt.camera_id is not None:
            query = query.where(Case.camera_id == filt.camera_id)
        cases = list(session.scalars(query))
        if not cases:
            return
        last_id = cases[-1].id
        labels = labels_for_cases(session, cases)
        for case in cases:
            review = _outcome(case.reviews)
            if review is None or review.status_after.value not in filt.outcomes:
                continue
            case_labels = labels[case.id]
            reason = next((r for r in case_labels.reasons if r.review_id == review.id), None)
            yield ReviewedCase(
                case_id=case.id,
                event_id=case.event_id,
                edge_id=case.edge_id,
                camera_id=case.camera_id,
                first_seen=case.first_seen,
                outcome=review.status_after.value,
                reason_code=reason.code if reason else None,
                reason_detail=reason.detail if reason else None,
                reason_text=review.reason,
                reviewer=review.reviewer,
                model_name=case.model_name,
                model_version=case.model_version,
                model_sha256=case.model_sha256,
                frame_sha256=case_labels.frame.sha256 if case_labels.frame else None,
                boxes=tuple(case_labels.boxes),
                duplicate_of=reason.duplicate_of if reason else None,
            )
        session.expunge_all()


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(
            f"{out} exists and is not empty: refusing to mix exports (choose a new --out)"
        )


def export_dataset(
    session_factory: sessionmaker[Session],
    store: EvidenceBackend,
    out: Path,
    *,
    filt: ExportFilter | None = None,
    policy: SplitPolicy | None = None,
    near_duplicate_bits: int = NEAR_DUPLICATE_BITS,
) -> ExportSummary:
    """Export the reviewed cases' clean frames to ``out`` as a YOLO dataset with a manifest.

    A frame whose bytes are missing or do not match their sha256 is skipped and listed; the
    export still completes.

    Raises:
        ExportError: ``out`` exists and is not empty.
    """
    filt = filt or ExportFilter()
    policy = policy or SplitPolicy()
    out = out.resolve()
    _check_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        summary = _write(session_factory, store, out, tmp, filt, policy, near_duplicate_bits)
        _check_out(out)
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return summary


def _write(
    session_factory: sessionmaker[Session],
    store: EvidenceBackend,
    out: Path,
    tmp: Path,
    filt: ExportFilter,
    policy: SplitPolicy,
    near_duplicate_bits: int,
) -> ExportSummary:
    for split in Split:
        (tmp / "images" / split.value).mkdir(parents=True)
        (tmp / "labels" / split.value).mkdir(parents=True)
    skipped: list[Skipped] = []
    plans: list[FramePlan] = []
    with session_factory() as session:
        for case in reviewed_cases(session, filt):
            planned = plan_case(case)
            if isinstance(planned, Skipped):
                skipped.append(planned)
            else:
                plans.append(planned)
    plans.sort(key=lambda p: (p.case.camera_id, p.case.first_seen, p.case.case_id))
    folder = Folder(near_duplicate_bits)
    frames: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    n_labels = 0
    with (tmp / "manifest.jsonl").open("w", encoding="utf-8") as manifest:
        for plan in plans:
            case = plan.case
            sha = case.frame_sha256 or ""

            def skip(reason: str, case: ReviewedCase = case, sha: str = sha) -> None:
                skipped.append(Skipped(case.case_id, case.camera_id, sha, reason))

            try:
                data = store.read(sha)
                frame_hash = dhash(data)
            except EvidenceMissingError:
                skip(f"frame {sha} is missing from the evidence store")
                continue
            except EvidenceCorruptError as exc:
                skip(f"frame {sha} is corrupt: {exc}")
                continue
            except ImageDecodeError as exc:
                skip(f"frame {sha}: {exc}")
                continue
            folded = folder.fold(case.camera_id, case.case_id, frame_hash)
            if folded is not None:
                skip(f"near-duplicate of case {folded[0]}'s frame ({folded[1]} bits apart)")
                continue
            group = policy.group(case.camera_id, case.first_seen)
            split = policy.split_of(group)
            stem = f"{case.case_id}_{sha[:12]}"
            image = Path("images") / split.value / f"{stem}.jpg"
            label_file = Path("labels") / split.value / f"{stem}.txt"
            (tmp / image).write_bytes(data)
            (tmp / label_file).write_text("".join(f"{lab.line()}\n" for lab in plan.labels))
            entry = ManifestEntry(
                case_id=case.case_id,
                event_id=case.event_id,
                edge_id=case.edge_id,
                camera_id=case.camera_id,
                first_seen=case.first_seen,
                evidence_sha256=sha,
                image=image.as_posix(),
                label_file=label_file.as_posix(),
                split=split,
                group=group,
                kind=plan.kind.value,
                labels=len(plan.labels),
                judged=list(plan.judged),
                verdict=case.outcome,
                reason=case.reason_code,
                reason_detail=case.reason_detail,
                reason_text=case.reason_text,
                reviewer=case.reviewer,
                model=ModelOut(
                    name=case.model_name, version=case.model_version, sha256=case.model_sha256
                ),
                dhash=f"{frame_hash:016x}",
            )
            manifest.write(entry.model_dump_json() + "\n")
            frames[split.value] += 1
            kinds[plan.kind.value] += 1
            n_labels += len(plan.labels)
    data_yaml = {
        "path": str(out),
        "train": "images/train",
        "val": "images/val",
        "test": "images/test",
        "names": dict(enumerate(MODEL_CLASSES)),
    }
    (tmp / "data.yaml").write_text(yaml.safe_dump(data_yaml, sort_keys=False))
    summary = ExportSummary(
        out=str(out),
        names=list(MODEL_CLASSES),
        frames={s.value: frames[s.value] for s in Split},
        kinds=dict(kinds),
        labels=n_labels,
        block_hours=policy.block_hours,
        near_duplicate_bits=near_duplicate_bits,
        skipped=[
            SkippedOut(
                case_id=s.case_id,
                camera_id=s.camera_id,
                evidence_sha256=s.evidence_sha256,
                reason=s.reason,
            )
            for s in sorted(skipped, key=lambda s: s.case_id)
        ],
    )
    (tmp / "export.json").write_text(summary.model_dump_json(indent=2) + "\n")
    for entry_skip in summary.skipped:
        logger.warning("case %d not exported: %s", entry_skip.case_id, entry_skip.reason)
    logger.info("%s", summary.text().splitlines()[0])
    return summary
