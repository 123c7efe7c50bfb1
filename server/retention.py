"""Retention: delete rejected and expired cases and evidence nobody keeps; legal holds.

The policy (:class:`server.core.config.RetentionSettings`): rejected cases go
``rejected_days`` after their review; with ``case_days`` set, any case goes that long
after its last update; evidence no remaining case refers to goes ``orphan_evidence_days``
after it arrived. A case on legal hold is never deleted, and neither is evidence a kept
case or an event still waiting in the quarantine (:mod:`server.quarantine`) refers to.
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
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import ColumnElement, and_, delete, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from server.core.config import RetentionSettings
from server.evidence_store import EvidenceBackend
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
        evidence_deleted: Evidence rows (and files) removed.
        bytes_freed: Sum of the removed evidence sizes.
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


def _unreferenced(session: Session, hashes: set[str], leaving: list[int]) -> set[str]:
    """Those of ``hashes`` that no case outside ``leaving`` refers to."""
    if not hashes:
        return set()
    kept = set(
        session.scalars(
            select(CaseEvidence.sha256).where(
                CaseEvidence.sha256.in_(hashes), CaseEvidence.case_id.not_in(leaving)
            )
        )
    )
    return hashes - kept


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
        held = 0
        if expired is not None:
            case_ids = list(
                session.scalars(select(Case.id).where(expired, Case.legal_hold_at.is_(None)))
            )
            held = (
                session.scalar(
                    select(func.count(Case.id)).where(expired, Case.legal_hold_at.is_not(None))
                )
                or 0
            )
        hashes = (
            set(
                session.scalars(
                    select(CaseEvidence.sha256).where(CaseEvidence.case_id.in_(case_ids))
                )
            )
            if case_ids
            else set()
        )
        doomed = _unreferenced(session, hashes, case_ids)
        if policy.orphan_evidence_days is not None:
            cutoff = now - timedelta(days=policy.orphan_evidence_days)
            referenced = select(CaseEvidence.sha256).where(CaseEvidence.sha256 == Evidence.sha256)
            doomed |= set(
                session.scalars(
                    select(Evidence.sha256).where(
                        Evidence.received_at < cutoff, ~referenced.exists()
                    )
                )
            )
        doomed -= _awaited(session, doomed)  # the event may yet be admitted with it
        rows = (
            list(session.scalars(select(Evidence).where(Evidence.sha256.in_(doomed))))
            if doomed
            else []
        )
        report = RetentionReport(
            cases_deleted=len(case_ids),
            evidence_deleted=len(rows),
            bytes_freed=sum(row.byte_size for row in rows),
            held_skipped=held,
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
        session.execute(delete(Evidence).where(Evidence.sha256.in_([r.sha256 for r in rows])))
        session.add(
            RetentionRun(
                started_at=now,
                cases_deleted=report.cases_deleted,
                evidence_deleted=report.evidence_deleted,
                bytes_freed=report.bytes_freed,
                held_skipped=held,
                detail=f"policy {policy.model_dump_json()}; cases {case_ids[:1000]}",
            )
        )
    for row in rows:
        store.delete(row.sha256)
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
