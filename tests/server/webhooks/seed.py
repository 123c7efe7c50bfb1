"""Seeding for the hand-off tests (webhooks, stats, exports, notices): units, cameras, cases.

Cases go in through the ingest's own ``crud.upsert_event``; units and cameras as rows of the
organisation's tables; transitions as the append-only rows the lifecycle writes.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from contracts.events import EvidenceKind
from server import auth, crud
from server.core.config import Settings
from server.lifecycle.tables import CaseTransition, TransitionAction
from server.main import create_app
from server.org.tables import Camera, Unit, UnitLevel
from server.state import ServerState
from server.tables import Case, CaseStatus, UserRole
from tests.server.builders import T0, as_dict, event, item

CITY = "sh"
DISTRICT = "sh-huangpu"
STREET_A = "sh-huangpu-nanjingdong"
STREET_B = "sh-huangpu-waitan"
TEAM_A = "sh-huangpu-nanjingdong-team1"


def seed_units(session: Session, now: datetime) -> None:
    """A city, a district, two streets (a camera each) and a team under the first street."""
    rows = [
        (CITY, "上海市", "Shanghai", UnitLevel.CITY, None),
        (DISTRICT, "黄浦区", "Huangpu", UnitLevel.DISTRICT, CITY),
        (STREET_A, "南京东路街道", "Nanjing East Rd", UnitLevel.STREET, DISTRICT),
        (STREET_B, "外滩街道", "The Bund", UnitLevel.STREET, DISTRICT),
        (TEAM_A, "南京东路一队", "Team 1", UnitLevel.TEAM, STREET_A),
    ]
    for order, (unit_id, name, name_en, level, parent) in enumerate(rows):
        session.add(
            Unit(
                id=unit_id,
                name=name,
                name_en=name_en,
                level=level,
                parent_id=parent,
                sort_order=order,
            )
        )
        session.flush()
    session.add(
        Camera(
            edge_id="edge-1", camera_id="cam-a", name="南京东路口", unit_id=STREET_A, created_at=now
        )
    )
    session.add(
        Camera(edge_id="edge-1", camera_id="cam-b", name="外滩", unit_id=STREET_B, created_at=now)
    )
    session.flush()


def seed_case(
    session: Session,
    *,
    number: int,
    camera_id: str = "cam-a",
    violation: str = "street_stall",
    first_seen: datetime = T0,
    received_at: datetime | None = None,
    details: dict[str, Any] | None = None,
    model_version: str = "1",
    evidence_bytes: bytes | None = None,
) -> Case:
    """A candidate case made by the ingest's upsert (event id from ``number``)."""
    overrides: dict[str, Any] = {
        "camera_id": camera_id,
        "violation_type": violation,
        "rule": violation,
        "first_seen": first_seen,
        "last_seen": first_seen + timedelta(seconds=30),
        "sent_at": first_seen + timedelta(seconds=31),
        "model": {"name": "civicwatch-yolo11n", "version": model_version, "sha256": "ab" * 32},
    }
    if details is not None:
        overrides["details"] = details
    if evidence_bytes is not None:
        ref = item(evidence_bytes, EvidenceKind.FRAME).ref
        overrides["evidence"] = [ref]
        crud.add_evidence(
            session,
            sha256=ref.sha256,
            content_type=ref.content_type,
            byte_size=ref.byte_size,
            edge_id="edge-1",
            received_at=first_seen,
        )
    ev = event(event_id=f"{number:032x}", **overrides)
    payload = as_dict(ev)
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    result = crud.upsert_event(
        session,
        event=ev,
        payload=payload,
        payload_sha256=digest,
        received_at=received_at or first_seen + timedelta(seconds=32),
    )
    case = session.get(Case, result.case_id)
    assert case is not None
    return case


def move(
    session: Session,
    case: Case,
    *,
    action: TransitionAction,
    to: CaseStatus,
    at: datetime,
    actor: str = "ana",
    detail: dict[str, Any] | None = None,
) -> CaseTransition:
    """Change a case's status and append its transition row, as the lifecycle does."""
    row = CaseTransition(
        case_id=case.id,
        action=action,
        from_status=case.status,
        to_status=to,
        actor=actor,
        unit_id=None,
        at=at,
        note=None,
        detail=detail or {},
    )
    case.status = to
    if to is CaseStatus.CLOSED:
        case.closed_at = at
    if action is TransitionAction.OVERDUE:
        case.overdue_at = at
    if action in (TransitionAction.CONFIRM, TransitionAction.REJECT):
        case.reviewed_at = at
    session.add(row)
    session.flush()
    return row


PASSWORD = "handoff-pass-1"
"""Every test account's password (argon2-hashed like any other)."""


def add_user(session: Session, *, name: str, role: UserRole, unit_id: str | None) -> None:
    """A login in ``unit_id`` (``None``: city-wide)."""
    auth.create_user(session, username=name, password=PASSWORD, role=role, now=T0, unit_id=unit_id)


def login(client: TestClient, name: str) -> dict[str, str]:
    """Bearer headers of a fresh login of ``name``."""
    response = client.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def app_state(client: TestClient) -> ServerState:
    """The started app's shared objects."""
    return client.app.state.civicwatch  # type: ignore[attr-defined,no-any-return]


def open_app(settings: Settings) -> TestClient:
    """A client on a started app (use as a context manager)."""
    return TestClient(create_app(settings))
