"""What a stored evidence chain says: an edge's records and issues, a case's standing.

Read-only queries on an open session, over what :mod:`server.chain_store` stored and
linked. :func:`case_chain` is a case's chain badge (``verified``, ``pending``,
``flagged``, ``unchained``) with the records, open issues, dropped and foreign evidence
behind it; :func:`edge_summary` counts an edge's records and its verified head.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from contracts.chain import ChainEntryKind
from server import quarantine
from server.tables import (
    Case,
    CaseEvent,
    CaseEvidence,
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
    status = _status(
        flagged=bool(issues or foreign),
        recorded=bool(records),
        digests=digests,
        verified_digests={r.event_sha256 for r in records if r.verified},
    )
    return CaseChain(
        status=status, records=records, issues=issues, dropped=dropped, foreign=foreign
    )


def _status(
    *, flagged: bool, recorded: bool, digests: list[str], verified_digests: set[str | None]
) -> ChainStatus:
    """The badge from what the chain holds for a case (see :class:`CaseChain`)."""
    if flagged:
        return "flagged"
    if not recorded:
        return "unchained"
    if all(digest in verified_digests for digest in digests):
        return "verified"
    return "pending"


def case_statuses(session: Session, cases: Sequence[Case]) -> dict[int, ChainStatus]:
    """The chain badge of each of ``cases`` (case id -> status), in a fixed number of queries.

    The same answer as ``case_chain(session, case=c).status`` for each case, for a page of
    the queue without a round of queries per case.
    """
    if not cases:
        return {}
    ids = [c.id for c in cases]
    event_ids = [c.event_id for c in cases]
    digests: dict[int, list[str]] = defaultdict(list)
    for case_id, digest in session.execute(
        select(CaseEvent.case_id, CaseEvent.payload_sha256).where(CaseEvent.case_id.in_(ids))
    ):
        digests[case_id].append(digest)
    shas: dict[int, list[str]] = defaultdict(list)
    for case_id, sha in session.execute(
        select(CaseEvidence.case_id, CaseEvidence.sha256).where(CaseEvidence.case_id.in_(ids))
    ):
        shas[case_id].append(sha)
    recorded: set[tuple[str, str | None]] = set()
    verified: dict[tuple[str, str | None], set[str | None]] = defaultdict(set)
    for edge_id, event_id, record_digest, is_verified in session.execute(
        select(
            ChainRecordRow.edge_id,
            ChainRecordRow.event_id,
            ChainRecordRow.event_sha256,
            ChainRecordRow.verified,
        ).where(
            ChainRecordRow.event_id.in_(event_ids),
            ChainRecordRow.kind == ChainEntryKind.EVENT.value,
        )
    ):
        recorded.add((edge_id, event_id))
        if is_verified:
            verified[(edge_id, event_id)].add(record_digest)
    issued = {
        (edge_id, event_id)
        for edge_id, event_id in session.execute(
            select(ChainIssue.edge_id, ChainIssue.event_id).where(
                ChainIssue.event_id.in_(event_ids), ChainIssue.resolved_at.is_(None)
            )
        )
    }
    owners = quarantine.evidence_owners(
        session, shas=sorted({sha for case_shas in shas.values() for sha in case_shas})
    )
    statuses: dict[int, ChainStatus] = {}
    for case in cases:
        key = (case.edge_id, case.event_id)
        foreign = any(owners.get(sha, set()) - {case.edge_id} for sha in shas[case.id])
        statuses[case.id] = _status(
            flagged=key in issued or foreign,
            recorded=key in recorded,
            digests=digests[case.id],
            verified_digests=verified[key],
        )
    return statuses


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
