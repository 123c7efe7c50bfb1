"""What a stored evidence chain says: an edge's records and issues, a case's standing.

Read-only queries on an open session, over what :mod:`server.chain_store` stored and
linked. :func:`case_chain` is a case's chain badge (``verified``, ``pending``,
``flagged``, ``unchained``) with the records, open issues, dropped and foreign evidence
behind it; :func:`edge_summary` counts an edge's records and its verified head.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from contracts.chain import ChainEntryKind
from server import quarantine
from server.tables import (
    Case,
    ChainEvidence,
    ChainEvidenceRole,
    ChainIssue,
    ChainRecordRow,
)


def records_of_edge(
    session: Session, *, edge_id: str, verified_only: bool = False
) -> list[ChainRecordRow]:
    """Every stored record of an edge, by sequence number."""
    query = select(ChainRecordRow).where(ChainRecordRow.edge_id == edge_id)
    if verified_only:
        query = query.where(ChainRecordRow.verified.is_(True))
    return list(
        session.scalars(
            query.order_by(ChainRecordRow.seq, ChainRecordRow.id).options(
                selectinload(ChainRecordRow.evidence)
            )
        )
    )


def issues_of_edge(session: Session, *, edge_id: str, open_only: bool = True) -> list[ChainIssue]:
    query = select(ChainIssue).where(ChainIssue.edge_id == edge_id)
    if open_only:
        query = query.where(ChainIssue.resolved_at.is_(None))
    return list(session.scalars(query.order_by(ChainIssue.seq, ChainIssue.id)))


ChainStatus = Literal["verified", "pending", "flagged", "unchained"]


@dataclass(frozen=True, slots=True)
class CaseChain:
    """A case's standing in its edge's chain.

    Attributes:
        status: ``flagged`` (an open issue of the case's edge names its event, or its
            evidence belongs to another edge), ``verified`` (every accepted message of
            the case is fixed by a verified record), ``pending`` (some are not, yet),
            ``unchained`` (no record names the case at all).
        records: The records of the case's messages, by sequence number.
        issues: Open issues of the case's edge naming the case's event.
        dropped: Evidence of the case the edge discarded unsent (sha256 -> record seq).
        foreign: Evidence of the case that belongs to another edge (sha256 -> edge).
    """

    status: ChainStatus
    records: list[ChainRecordRow]
    issues: list[ChainIssue]
    dropped: dict[str, int]
    foreign: dict[str, str]


def case_chain(session: Session, *, case: Case) -> CaseChain:
    """The chain records, open issues and dropped evidence of ``case``."""
    digests = [event.payload_sha256 for event in case.events]
    records = list(
        session.scalars(
            select(ChainRecordRow)
            .where(
                ChainRecordRow.edge_id == case.edge_id,
                ChainRecordRow.event_id == case.event_id,
                ChainRecordRow.kind == ChainEntryKind.EVENT.value,
            )
            .order_by(ChainRecordRow.seq, ChainRecordRow.id)
        )
    )
    issues = list(
        session.scalars(
            select(ChainIssue)
            .where(
                ChainIssue.edge_id == case.edge_id,  # another edge cannot flag this case
                ChainIssue.event_id == case.event_id,
                ChainIssue.resolved_at.is_(None),
            )
            .order_by(ChainIssue.seq, ChainIssue.id)
        )
    )
    shas = [item.sha256 for item in case.evidence]
    dropped: dict[str, int] = {}
    if shas:
        rows = session.execute(
            select(ChainEvidence.sha256, ChainRecordRow.seq)
            .join(ChainRecordRow, ChainEvidence.record_id == ChainRecordRow.id)
            .where(
                ChainEvidence.sha256.in_(shas),
                ChainEvidence.role == ChainEvidenceRole.DROPPED,
                ChainRecordRow.edge_id == case.edge_id,
            )
        )
        dropped = {row[0]: row[1] for row in rows}
    foreign = quarantine.foreign_evidence(session, edge_id=case.edge_id, shas=shas)
    verified_digests = {r.event_sha256 for r in records if r.verified}
    status: ChainStatus
    if issues or foreign:
        status = "flagged"
    elif not records:
        status = "unchained"
    elif all(digest in verified_digests for digest in digests):
        status = "verified"
    else:
        status = "pending"
    return CaseChain(
        status=status, records=records, issues=issues, dropped=dropped, foreign=foreign
    )


@dataclass(frozen=True, slots=True)
class EdgeChainSummary:
    """Counts of an edge's stored records and its highest verified sequence number."""

    records: int
    verified_records: int
    head_seq: int


def edge_summary(session: Session, *, edge_id: str) -> EdgeChainSummary:
    """How many records of ``edge_id`` are stored, verified, and the verified head."""
    where = ChainRecordRow.edge_id == edge_id
    total = session.scalar(select(func.count()).select_from(ChainRecordRow).where(where)) or 0
    verified = ChainRecordRow.verified.is_(True)
    count = session.scalar(select(func.count()).select_from(ChainRecordRow).where(where, verified))
    head = session.scalar(select(func.max(ChainRecordRow.seq)).where(where, verified))
    return EdgeChainSummary(records=total, verified_records=count or 0, head_seq=head or 0)
