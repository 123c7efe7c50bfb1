"""``/healthz`` (what is failing, for operators; a login when auth is on) and ``/livez``.

``/healthz`` checks that the database takes a write, that the evidence, dead-letter and
database disks have ``health.min_free_mb`` free, and that the ingest is not holding a
message past ``health.ingest_stall_s``; any of these failing is ``down`` with HTTP 503
and a line in ``problems``. It also shows the evidence check made at start
(:mod:`server.evidence_integrity`: missing, corrupt and orphan files); missing or
corrupt evidence makes it ``degraded`` (the server still works; cases lack proof).
``/livez`` is the unauthenticated liveness probe for orchestrators: it only says the
process answers.
"""

from __future__ import annotations

import logging
from datetime import datetime

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict

from server import crud
from server.api.deps import ReaderDep, StateDep
from server.core.db import database_ok
from server.evidence_integrity import MonitorState, monitor_of
from server.health import database_write_problem, disk_checks
from server.schemas import HealthOut, IngestOut, MqttOut, edge_out

logger = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


class DiskOut(BaseModel):
    """Free space of one directory the server writes to."""

    model_config = ConfigDict(frozen=True)

    name: str
    path: str
    free_mb: int
    min_free_mb: int
    ok: bool


class EvidenceCheckOut(BaseModel):
    """The evidence store against the database rows, as checked at start (quick pass)."""

    model_config = ConfigDict(frozen=True)

    state: MonitorState
    mode: str | None = None
    rows: int | None = None
    files: int | None = None
    missing: int | None = None
    corrupt: int | None = None
    orphans: int | None = None
    problems: list[str] = []
    checked_at: datetime | None = None
    detail: str = ""


class HealthReport(HealthOut):
    """Server health with what is failing (``problems``; empty when all is well)."""

    database_writable: bool
    disks: list[DiskOut]
    problems: list[str]
    evidence_check: EvidenceCheckOut | None = None


class LiveOut(BaseModel):
    status: str = "ok"


@router.get("/livez", response_model=LiveOut, summary="Liveness")
async def livez() -> LiveOut:
    """The process answers HTTP; says nothing else (public, for orchestrators)."""
    return LiveOut()


def _mqtt(state: StateDep) -> MqttOut:
    if state.ingest is not None:
        current = state.ingest.status()
        return MqttOut(
            enabled=True,
            connected=current.connected,
            host=current.host,
            port=current.port,
            sessions_lost=current.sessions_lost,
            resend_requests=current.resend_requests,
        )
    settings = state.settings
    return MqttOut(enabled=False, connected=False, host=settings.mqtt.host, port=settings.mqtt.port)


def _evidence_check(request: Request) -> EvidenceCheckOut | None:
    monitor = monitor_of(request.app.state)
    if monitor is None:
        return None
    current = monitor.status()
    report = current.report
    if report is None:
        return EvidenceCheckOut(state=current.state, detail=current.detail)
    return EvidenceCheckOut(
        state=current.state,
        mode=report.mode,
        rows=report.rows,
        files=report.files,
        missing=report.missing.count,
        corrupt=report.corrupt.count,
        orphans=None if report.orphans is None else report.orphans.count,
        problems=report.problems(),
        checked_at=report.checked_at,
        detail=report.summary(),
    )


@router.get(
    "/healthz",
    response_model=HealthReport,
    responses={503: {"model": HealthReport, "description": "Something listed in problems."}},
    summary="Health",
)
def healthz(
    state: StateDep, request: Request, response: Response, _principal: ReaderDep
) -> HealthReport:
    """``ok``; ``degraded`` when the broker is missing or the start-up evidence check found
    missing or corrupt files; ``down`` (HTTP 503) when the database is unreachable or
    read-only, a disk is short of space or the ingest stalls.
    """
    problems: list[str] = []
    db_ok = database_ok(state.engine)
    write_problem = database_write_problem(state.session_factory) if db_ok else None
    if not db_ok:
        problems.append("database unreachable")
    elif write_problem is not None:
        problems.append(write_problem)
    disks = disk_checks(state.settings)
    problems.extend(check.problem() for check in disks if not check.ok)
    if state.ingest is not None:
        problems.extend(state.ingest.storage.stall_problems())
    edges = []
    if db_ok:
        with state.session_factory() as session:
            edges = [edge_out(edge) for edge in crud.list_edges(session)]
    mqtt = _mqtt(state)
    counts = state.metrics.snapshot()
    evidence_check = _evidence_check(request)
    evidence_bad = evidence_check is not None and bool(
        evidence_check.missing or evidence_check.corrupt
    )
    if problems:
        overall = "down"
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        logger.warning("health: %s", "; ".join(problems))
    elif (mqtt.enabled and not mqtt.connected) or evidence_bad:
        overall = "degraded"
    else:
        overall = "ok"
    return HealthReport(
        status=overall,
        database=db_ok,
        database_writable=db_ok and write_problem is None,
        disks=[
            DiskOut(
                name=check.name,
                path=str(check.path),
                free_mb=check.free_bytes // (1024 * 1024),
                min_free_mb=check.min_free_bytes // (1024 * 1024),
                ok=check.ok,
            )
            for check in disks
        ],
        problems=problems,
        mqtt=mqtt,
        edges=edges,
        ingest=IngestOut(accepted=counts.accepted, rejected=counts.rejected),
        evidence_check=evidence_check,
    )
