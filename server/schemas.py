"""HTTP API models (pydantic): what the API accepts and returns, built from ORM rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.events import EventPhase
from server.chain_store import CaseChain, ChainStatus
from server.lifecycle.schemas import DisposalOut, TransitionOut
from server.review_labels.model import StructuredReason
from server.tables import (
    Case,
    CaseEvidence,
    CaseStatus,
    ChainIssue,
    ChainIssueKind,
    Edge,
    EdgeAvailability,
    QuarantineOutcome,
    ReviewVerdict,
)

API_PREFIX = "/api/v1"


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class _RowOut(_Out):
    """An output whose fields are read by name from one ORM row (``model_validate(row)``)."""

    model_config = ConfigDict(frozen=True, from_attributes=True)


class BoxOut(_Out):
    """Box in normalised image coordinates (0..1, origin top-left)."""

    x1: float
    y1: float
    x2: float
    y2: float


class ModelOut(_Out):
    """The detector that produced the latest observation."""

    name: str
    version: str
    sha256: str


class EvidenceOut(_Out):
    """One evidence item of a case; ``available`` is false until its bytes have arrived."""

    sha256: str
    kind: str
    content_type: str
    byte_size: int
    captured_at: datetime
    available: bool
    url: str = Field(description="Where the bytes are served: GET returns them.")


class CaseOut(_Out):
    """A case as listed."""

    id: int
    event_id: str
    edge_id: str
    camera_id: str
    zone_id: str
    rule: str
    violation_type: str
    label: str
    confidence: float
    box: BoxOut
    first_seen: datetime
    last_seen: datetime
    dwell_s: float
    phase: EventPhase
    open: bool = Field(description="The edge still observes it (no end received).")
    model: ModelOut
    status: CaseStatus
    review_reason: str | None
    reviewer: str | None
    reviewed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    evidence: list[EvidenceOut]
    chain_status: ChainStatus = Field(
        description=(
            "The case's standing in its edge's signed chain (see CaseChainOut.status); "
            "confirming a case that is not verified needs an explicit override."
        )
    )
    unit_id: str | None = Field(
        default=None, description="The camera's unit (街镇); null: the camera is not registered."
    )
    unit_name: str | None = Field(default=None, description="That unit's Chinese name.")
    assigned_unit_id: str | None = Field(
        default=None, description="The unit above the camera's that handles it (escalated)."
    )
    team_unit_id: str | None = Field(default=None, description="The team it is dispatched to.")
    deadline_at: datetime | None = Field(default=None, description="The dispatch deadline.")
    overdue: bool = Field(default=False, description="The deadline passed before disposal.")
    closed_at: datetime | None = None


class CaseEventOut(_RowOut):
    """One accepted event message, as received."""

    id: int
    phase: EventPhase
    sent_at: datetime
    received_at: datetime
    payload: dict[str, Any]


class ReviewOut(_RowOut):
    """One verdict in the case's audit trail."""

    id: int
    verdict: ReviewVerdict
    status_before: CaseStatus
    status_after: CaseStatus
    reason: str | None
    reviewer: str | None
    created_at: datetime
    chain_status: str | None = Field(description="The case's chain status at the verdict.")
    chain_override: bool = Field(
        description="The reviewer confirmed a case whose chain was not verified, explicitly."
    )


class ChainRecordOut(_RowOut):
    """A chain record that fixes one of the case's messages."""

    seq: int
    record_hash: str
    prev_hash: str
    phase: str | None
    event_sha256: str | None
    key_id: str
    verified: bool = Field(description="The signature verified with the edge's registered key.")
    recorded_at: datetime


class ChainIssueOut(_RowOut):
    """A problem in an edge's evidence chain."""

    id: int
    edge_id: str
    seq: int
    kind: ChainIssueKind
    event_id: str | None
    detail: str
    created_at: datetime
    resolved_at: datetime | None


class CaseChainOut(_Out):
    """Where the case stands in its edge's signed evidence chain."""

    status: Literal["verified", "pending", "flagged", "unchained"] = Field(
        description=(
            "verified: every message is fixed by a verified record; pending: some are not "
            "yet; flagged: an open chain issue (gap, fork, bad signature, unknown key) "
            "names this case; unchained: no chain record names it."
        )
    )
    records: list[ChainRecordOut]
    issues: list[ChainIssueOut]
    dropped_evidence: dict[str, int] = Field(
        description="Evidence the edge discarded unsent (outbox budget): sha256 -> record seq."
    )
    foreign_evidence: dict[str, str] = Field(
        description="Evidence that belongs to another edge's chain: sha256 -> edge (flags)."
    )


class UnitNameOut(_Out):
    """A unit a case names, by its names (the page shows them for units out of its tree)."""

    id: str
    name: str = Field(description="Chinese name.")
    name_en: str = Field(description="English name ('' when it has none).")


class CaseDetail(CaseOut):
    """A case with every accepted message, every verdict and its chain standing."""

    units: list[UnitNameOut] = Field(
        default_factory=list,
        description=(
            "The units the case names (the camera's, the assigned unit, the team), by id, with "
            "their names: a viewer whose tree does not hold them (a street after escalation to "
            "its district) still sees names."
        ),
    )
    events: list[CaseEventOut]
    reviews: list[ReviewOut]
    chain: CaseChainOut | None = Field(
        default=None, description="The case's evidence chain standing (always set by the API)."
    )
    transitions: list[TransitionOut] = Field(
        default_factory=list, description="Every lifecycle transition, oldest first."
    )
    disposals: list[DisposalOut] = Field(
        default_factory=list, description="What field teams reported, with their photos."
    )


class EdgeChainOut(_Out):
    """An edge's evidence chain as the server holds it."""

    edge_id: str
    keys: list[str] = Field(description="Registered key ids of the edge.")
    records: int = Field(description="Stored records (verified or not).")
    verified_records: int
    head_seq: int = Field(description="Highest verified sequence number (0: none).")
    issues: list[ChainIssueOut] = Field(description="Open issues, by sequence number.")


class QuarantinedOut(_RowOut):
    """An event message that waits for (or waited in vain for) its verified chain record."""

    id: int
    edge_id: str
    event_id: str
    camera_id: str
    phase: str
    payload_sha256: str
    reason: str = Field(description="Why it is not (yet) part of a case.")
    received_at: datetime
    resolved_at: datetime | None
    outcome: QuarantineOutcome | None = Field(
        description="admitted (its record verified) or expired; null while it waits."
    )


class QuarantineList(_Out):
    """A page of quarantined events, newest first."""

    items: list[QuarantinedOut]
    total: int
    limit: int
    offset: int


class CaseList(_Out):
    """A page of cases, newest first."""

    items: list[CaseOut]
    total: int = Field(description="How many cases match the filters in all.")
    limit: int
    offset: int


class ReviewIn(BaseModel):
    """A reviewer's verdict on a case."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    verdict: ReviewVerdict = Field(description="confirm, reject or escalate.")
    reason: str | None = Field(
        default=None,
        max_length=2000,
        description="Why; required when rejecting.",
    )
    reviewer: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="Who decided (until sign-in exists, self-declared).",
    )
    override_chain: bool = Field(
        default=False,
        description=(
            "Confirm although the case's chain is not verified; needs a reason and is "
            "recorded in the audit trail."
        ),
    )
    structured: StructuredReason | None = Field(
        default=None,
        description=(
            "Why, in words a model can learn from (reject or escalate): not_a_violation, "
            "wrong_object (which box, what it really is), wrong_place, duplicate, "
            "evidence_unusable. Stands for the reason text when none is given."
        ),
    )

    @model_validator(mode="after")
    def _reason_for_reject(self) -> ReviewIn:
        if self.structured is not None and self.verdict is ReviewVerdict.CONFIRM:
            raise ValueError("a structured reason goes with reject or escalate, not confirm")
        if self.verdict is ReviewVerdict.REJECT and not self.reason and self.structured is None:
            raise ValueError("a reason is required to reject a case")
        if self.override_chain and not self.reason:
            raise ValueError("a reason is required to override the chain check")
        return self


class EdgeOut(_RowOut):
    """What the server knows of one edge."""

    edge_id: str
    availability: EdgeAvailability | None
    availability_at: datetime | None
    last_message_at: datetime


class MqttOut(_Out):
    enabled: bool
    connected: bool
    host: str
    port: int
    sessions_lost: int = 0  # the broker had no session for the ingest (queued messages lost)
    resend_requests: int = 0  # edges asked to re-send from their chains (lost session, gaps)


class IngestOut(_Out):
    accepted: dict[str, int]
    rejected: dict[str, int]


class HealthOut(_Out):
    """Server health: the database, the MQTT ingest and the edges."""

    status: Literal["ok", "degraded", "down"]
    database: bool
    mqtt: MqttOut
    edges: list[EdgeOut]
    ingest: IngestOut


def evidence_url(sha256: str) -> str:
    return f"{API_PREFIX}/evidence/{sha256}"


def evidence_out(item: CaseEvidence) -> EvidenceOut:
    return EvidenceOut(
        sha256=item.sha256,
        kind=item.kind,
        content_type=item.stored.content_type if item.stored else item.content_type,
        byte_size=item.stored.byte_size if item.stored else item.byte_size,
        captured_at=item.captured_at,
        available=item.stored is not None,
        url=evidence_url(item.sha256),
    )


def _case_fields(case: Case, chain_status: ChainStatus) -> dict[str, Any]:
    return {
        "id": case.id,
        "event_id": case.event_id,
        "edge_id": case.edge_id,
        "camera_id": case.camera_id,
        "zone_id": case.zone_id,
        "rule": case.rule,
        "violation_type": case.violation_type,
        "label": case.label,
        "confidence": case.confidence,
        "box": BoxOut(x1=case.box_x1, y1=case.box_y1, x2=case.box_x2, y2=case.box_y2),
        "first_seen": case.first_seen,
        "last_seen": case.last_seen,
        "dwell_s": case.dwell_s,
        "phase": case.phase,
        "open": case.is_open,
        "model": ModelOut(
            name=case.model_name, version=case.model_version, sha256=case.model_sha256
        ),
        "status": case.status,
        "review_reason": case.review_reason,
        "reviewer": case.reviewer,
        "reviewed_at": case.reviewed_at,
        "created_at": case.created_at,
        "updated_at": case.updated_at,
        "evidence": [evidence_out(item) for item in case.evidence],
        "chain_status": chain_status,
        "assigned_unit_id": case.assigned_unit_id,
        "team_unit_id": case.team_unit_id,
        "deadline_at": case.deadline_at,
        "overdue": case.overdue_at is not None,
        "closed_at": case.closed_at,
    }


def case_out(
    case: Case,
    chain_status: ChainStatus,
    *,
    unit_id: str | None = None,
    unit_name: str | None = None,
) -> CaseOut:
    return CaseOut(**_case_fields(case, chain_status), unit_id=unit_id, unit_name=unit_name)


def chain_issue_out(issue: ChainIssue) -> ChainIssueOut:
    return ChainIssueOut.model_validate(issue)


def case_chain_out(chain: CaseChain) -> CaseChainOut:
    return CaseChainOut(
        status=chain.status,
        records=[ChainRecordOut.model_validate(row) for row in chain.records],
        issues=[chain_issue_out(issue) for issue in chain.issues],
        dropped_evidence=chain.dropped,
        foreign_evidence=chain.foreign,
    )


def case_detail(
    case: Case,
    chain: CaseChain,
    *,
    unit_id: str | None = None,
    unit_name: str | None = None,
    units: Sequence[UnitNameOut] = (),
    transitions: Sequence[TransitionOut] = (),
    disposals: Sequence[DisposalOut] = (),
) -> CaseDetail:
    return CaseDetail(
        **_case_fields(case, chain.status),
        units=list(units),
        events=[CaseEventOut.model_validate(event) for event in case.events],
        reviews=[ReviewOut.model_validate(review) for review in case.reviews],
        chain=case_chain_out(chain),
        unit_id=unit_id,
        unit_name=unit_name,
        transitions=list(transitions),
        disposals=list(disposals),
    )


def edge_out(edge: Edge) -> EdgeOut:
    return EdgeOut.model_validate(edge)
