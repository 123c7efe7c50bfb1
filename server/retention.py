"""Retention: delete rejected and expired cases and evidence nobody keeps; legal holds.

The policy (:class:`server.core.config.RetentionSettings`): rejected cases go
``rejected_days`` after their review; with ``case_days`` set, any case goes that long
after its last update; evidence nothing holds any more goes ``orphan_evidence_days``
after it arrived. A case on legal hold is never deleted.

Bytes in the evidence store are kept while any row of :data:`HOLDERS` names them: case
evidence (frames, crops and event clips), disposal photos, camera snapshots, zone
versions' reference snapshots and model files, as well as evidence that an event still
waiting in the quarantine (:mod:`server.quarantine`) refers to. A deleted case takes its
evidence and its disposal photos with it, unless another row names the same bytes.
Rows go first (one transaction, with a :class:`server.tables.RetentionRun` row saying
what went); files are unlinked after the commit, so a crash leaves at worst an
unreferenced file, never a row without its bytes. ``civicwatch server retention`` runs
it once; the server runs it every ``retention.interval_s``.

Holds are set and cleared by admins (:func:`set_hold`), each change written to
``legal_hold_log``.

Example:
    >>> report = apply_retention(factory, store, settings.retention, now=utcnow())
    ... # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import (
    ColumnElement,
    Exists,
    Select,
    SQLColumnExpression,
    and_,
    delete,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session, sessionmaker

from server.cameras.tables import CameraSnapshot, ZoneVersion
from server.core.config import RetentionSettings
from server.evidence_store import EvidenceBackend
from server.lifecycle.tables import CaseDisposal, CaseDisposalPhoto
from server.rollout.tables import ModelFileRow
from server.tables import (
    Case,
    CaseEvidence,
    CaseStatus,
    Evidence,
    HoldAction,
    LegalHoldLog,
    QuarantinedEvent,
    RetentionRun,
)

logger = logging.getLogger(__name__)

BATCH = 500
"""Cases deleted per statement."""


class HoldError(ValueError):
    """A hold cannot be changed; the message says why."""


@dataclass(frozen=True, slots=True)
class RetentionReport:
    """What one application of the policy deleted (or would, in a dry run).

    Attributes:
        cases_deleted: Cases removed with their events, evidence references and reviews.
        evidence_deleted: Files removed from the evidence store (with their evidence rows).
        bytes_freed: Sum of their sizes.
        held_skipped: Cases the policy would have removed but a legal hold kept.
        dry_run: Nothing was changed.
        case_ids: The removed cases.
    """

    cases_deleted: int
    evidence_deleted: int
    bytes_freed: int
    held_skipped: int
    dry_run: bool
    case_ids: list[int] = field(default_factory=list)

    def summary(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        return (
            f"{verb} {self.cases_deleted} cases and {self.evidence_deleted} evidence items "
            f"({self.bytes_freed} bytes); {self.held_skipped} cases kept by a legal hold"
        )


def _expired(policy: RetentionSettings, now: datetime) -> ColumnElement[bool] | None:
    clauses: list[ColumnElement[bool]] = []
    if policy.rejected_days is not None:
        cutoff = now - timedelta(days=policy.rejected_days)
        reviewed = func.coalesce(Case.reviewed_at, Case.updated_at)
        clauses.append(and_(Case.status == CaseStatus.REJECTED, reviewed < cutoff))
    if policy.case_days is not None:
        clauses.append(Case.updated_at < now - timedelta(days=policy.case_days))
    return or_(*clauses) if clauses else None


@dataclass(frozen=True, slots=True)
class Holder:
    """A table column whose rows keep bytes in the evidence store (named by sha256).

    Attributes:
        name: What the rows are.
        rows: The column's rows (``select`` of ``sha256``, joined to what ``case_id`` needs).
        sha256: The column naming the bytes.
        case_id: The case the rows belong to (they go when it goes); ``None``: no case's.
        byte_size: The size of the bytes, for holders whose bytes have no evidence row
            (written to the store before the row).
    """

    name: str
    rows: Select[str] | Select[str | None]
    sha256: SQLColumnExpression[str] | SQLColumnExpression[str | None]
    case_id: SQLColumnExpression[int] | None = None
    byte_size: SQLColumnExpression[int] | None = None

    def naming(self, hashes: Collection[str], *, outside: Sequence[int] = ()) -> Select[Any]:
        """The rows that name one of ``hashes``, leaving out those of the cases ``outside``."""
        query = self.rows.where(self.sha256.in_(hashes))
        if self.case_id is not None and outside:
            query = query.where(self.case_id.not_in(outside))
        return query

    def of_cases(self, case_ids: Sequence[int]) -> Select[Any] | None:
        """What the rows of ``case_ids`` name (``None``: the rows belong to no case)."""
        if self.case_id is None:
            return None
        return self.rows.where(self.case_id.in_(case_ids))

    def holds(self, sha256: SQLColumnExpression[str]) -> Exists:
        """``EXISTS`` a row naming ``sha256`` (a column of the outer query)."""
        return self.rows.where(self.sha256 == sha256).exists()


HOLDERS: tuple[Holder, ...] = (
    Holder(
        "case evidence (frames, crops, event clips)",
        select(CaseEvidence.sha256),
        CaseEvidence.sha256,
        case_id=CaseEvidence.case_id,  # its bytes, once arrived, have an evidence row
    ),
    Holder(
        "disposal photos",
        select(CaseDisposalPhoto.sha256).join(
            CaseDisposal, CaseDisposal.id == CaseDisposalPhoto.disposal_id
        ),
        CaseDisposalPhoto.sha256,
        case_id=CaseDisposal.case_id,
        byte_size=CaseDisposalPhoto.byte_size,
    ),
    Holder("camera snapshots", select(CameraSnapshot.sha256), CameraSnapshot.sha256),
    Holder(
        "zone versions' reference snapshots",
        select(ZoneVersion.reference_sha256),
        ZoneVersion.reference_sha256,
    ),
    Holder("model files", select(ModelFileRow.sha256), ModelFileRow.sha256),
)
"""Every column that keeps evidence-store bytes; a feature that stores bytes adds its own."""


def _held(session: Session, hashes: set[str], leaving: Sequence[int]) -> set[str]:
    """Those of ``hashes`` that a row of :data:`HOLDERS` names (rows of ``leaving`` cases
    do not count: they go)."""
    if not hashes:
        return set()
    held: set[str] = set()
    for holder in HOLDERS:
        held.update(session.scalars(holder.naming(hashes - held, outside=leaving)))
        if held >= hashes:
            break
    return held


def _of_cases(session: Session, case_ids: Sequence[int]) -> set[str]:
    """Every hash the rows of ``case_ids`` name."""
    hashes: set[str] = set()
    for start in range(0, len(case_ids), BATCH):
        batch = case_ids[start : start + BATCH]
        for holder in HOLDERS:
            query = holder.of_cases(batch)
            if query is not None:
                hashes.update(h for h in session.scalars(query) if h is not None)
    return hashes


def _sizes(session: Session, hashes: set[str]) -> dict[str, int]:
    """The size of each of ``hashes`` that is in the store: its evidence row's, or what a
    holder with no evidence rows says (bytes named only by an event never arrived)."""
    if not hashes:
        return {}
    stored = select(Evidence.sha256, Evidence.byte_size).where(Evidence.sha256.in_(hashes))
    sizes = dict(session.execute(stored).all())
    for holder in HOLDERS:
        missing = hashes - sizes.keys()
        if not missing:
            break
        if holder.byte_size is not None:
            query = select(holder.sha256, holder.byte_size).where(holder.sha256.in_(missing))
            sizes.update((sha, size) for sha, size in session.execute(query) if sha)
    return sizes


class _Ref(BaseModel):
    sha256: str


class _Waiting(BaseModel):
    """What retention reads of a quarantined event's payload: the evidence it names."""

    evidence: list[_Ref] = []


def _awaited(session: Session, hashes: set[str]) -> set[str]:
    """Those of ``hashes`` that an event still waiting in the quarantine refers to."""
    if not hashes:
        return set()
    payloads = session.scalars(
        select(QuarantinedEvent.payload).where(QuarantinedEvent.resolved_at.is_(None))
    )
    named = {ref.sha256 for p in payloads for ref in _Waiting.model_validate(p).evidence}
    return hashes & named


def apply_retention(
    session_factory: sessionmaker[Session],
    store: EvidenceBackend,
    policy: RetentionSettings,
    *,
    now: datetime,
    dry_run: bool = False,
) -> RetentionReport:
    """Delete what the policy says is past keeping; returns what went (or would go)."""
    expired = _expired(policy, now)
    with session_factory() as session, session.begin():
        case_ids: list[int] = []
        held_count = 0
        if expired is not None:
            case_ids = list(
                session.scalars(select(Case.id).where(expired, Case.legal_hold_at.is_(None)))
            )
            held_count = (
                session.scalar(
                    select(func.count(Case.id)).where(expired, Case.legal_hold_at.is_not(None))
                )
                or 0
            )
        doomed = _of_cases(session, case_ids)
        doomed -= _held(session, doomed, case_ids)
        if policy.orphan_evidence_days is not None:
            cutoff = now - timedelta(days=policy.orphan_evidence_days)
            held = [holder.holds(Evidence.sha256) for holder in HOLDERS]
            doomed |= set(
                session.scalars(
                    select(Evidence.sha256).where(
                        Evidence.received_at < cutoff, *(~exists for exists in held)
                    )
                )
            )
        doomed -= _awaited(session, doomed)  # the event may yet be admitted with it
        sizes = _sizes(session, doomed)
        report = RetentionReport(
            cases_deleted=len(case_ids),
            evidence_deleted=len(sizes),
            bytes_freed=sum(sizes.values()),
            held_skipped=held_count,
            dry_run=dry_run,
            case_ids=case_ids,
        )
        if dry_run:
            return report
        for start in range(0, len(case_ids), BATCH):
            batch = case_ids[start : start + BATCH]
            for case in session.scalars(select(Case).where(Case.id.in_(batch))):
                session.delete(case)  # with its events, evidence references and reviews
        session.flush()
        gone = sorted(doomed)
        for start in range(0, len(gone), BATCH):
            batch_hashes = gone[start : start + BATCH]
            session.execute(delete(Evidence).where(Evidence.sha256.in_(batch_hashes)))
        session.add(
            RetentionRun(
                started_at=now,
                cases_deleted=report.cases_deleted,
                evidence_deleted=report.evidence_deleted,
                bytes_freed=report.bytes_freed,
                held_skipped=held_count,
                detail=f"policy {policy.model_dump_json()}; cases {case_ids[:1000]}",
            )
        )
    for sha256 in gone:
        store.delete(sha256)
    if report.cases_deleted or report.evidence_deleted:
        logger.warning("retention: %s", report.summary())
    return report


def set_hold(
    session: Session, *, case_id: int, actor: str, reason: str, hold: bool, now: datetime
) -> Case:
    """Put a case on legal hold or release it, with an audit row (the caller commits).

    Raises:
        HoldError: No such case, or it is already in the asked state.
    """
    case = session.get(Case, case_id)
    if case is None:
        raise HoldError(f"case {case_id} not found")
    if hold == (case.legal_hold_at is not None):
        raise HoldError(f"case {case_id} is {'already' if hold else 'not'} on legal hold")
    case.legal_hold_at = now if hold else None
    case.legal_hold_by = actor if hold else None
    case.legal_hold_reason = reason if hold else None
    session.add(
        LegalHoldLog(
            case_id=case.id,
            event_id=case.event_id,
            action=HoldAction.SET if hold else HoldAction.CLEAR,
            actor=actor,
            reason=reason,
            created_at=now,
        )
    )
    session.flush()
    logger.warning(
        "legal hold %s on case %d by %s: %s",
        "set" if hold else "cleared",
        case_id,
        actor,
        reason[:200],
    )
    return case


def hold_log(session: Session, *, case_id: int) -> list[LegalHoldLog]:
    """The audit trail of one case's holds, oldest first."""
    return list(
        session.scalars(
            select(LegalHoldLog).where(LegalHoldLog.case_id == case_id).order_by(LegalHoldLog.id)
        )
    )
