"""A command center on a real database: the demo city's units, accounts at every level, cases."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from contracts.chain import event_digest
from server import auth, crud
from server.core.config import load_settings
from server.main import create_app
from server.state import ServerState
from server.tables import UserRole
from tests.server import builders as b
from tests.server.conftest import NOW

UNITS = Path(__file__).resolve().parents[3] / "configs" / "units.yaml"
NJD = "sh-huangpu-nanjingdong"

ACCOUNTS = {
    # name: (role, unit, password)
    "chief": (UserRole.ADMIN, None, "city-admin-pass-1"),
    "hp-disp": (UserRole.DISPATCHER, "sh-huangpu", "district-disp-pass-2"),
    "njd-rev": (UserRole.REVIEWER, NJD, "street-review-pass-3"),
    "njd-team": (UserRole.TEAM, f"{NJD}-team1", "street-team-pass-4"),
    "wt-rev": (UserRole.REVIEWER, "sh-huangpu-waitan", "other-street-pass-5"),
    "wt-team": (UserRole.TEAM, "sh-huangpu-waitan-team1", "other-team-pass-6"),
}


@dataclass
class Center:
    client: TestClient
    state: ServerState
    headers: dict[str, dict[str, str]]

    def case(self, event_id: str, *, edge_id: str, camera_id: str, violation: str) -> int:
        """A candidate case from ``edge_id``/``camera_id``, made the way the ingest makes it."""
        event = b.event(
            event_id=event_id,
            edge_id=edge_id,
            camera_id=camera_id,
            rule=violation,
            violation_type=violation,
        )
        with self.state.session_factory() as session, session.begin():
            done = crud.upsert_event(
                session,
                event=event,
                payload=b.as_dict(event),
                payload_sha256=event_digest(event),
                received_at=NOW,
            )
        return done.case_id

    def as_(self, name: str) -> dict[str, str]:
        return self.headers[name]


@pytest.fixture
def center(db_url: str, tmp_path: Path) -> Iterator[Center]:
    settings = load_settings(
        None,
        database_url=db_url,
        evidence_dir=tmp_path / "evidence",
        mqtt_enabled=False,
        auth_enabled=True,
        units_file=UNITS,
        lifecycle={"overdue_interval_s": 0, "max_photo_bytes": 60_000, "max_photos": 3},
        retention={"interval_s": 0},
    )
    with TestClient(create_app(settings)) as client:
        state: ServerState = client.app.state.civicwatch  # type: ignore[attr-defined]
        with state.session_factory() as session, session.begin():
            for name, (role, unit, password) in ACCOUNTS.items():
                auth.create_user(
                    session, username=name, password=password, role=role, now=NOW, unit_id=unit
                )
        headers = {}
        for name, (_, _, password) in ACCOUNTS.items():
            response = client.post(
                "/api/v1/auth/login", json={"username": name, "password": password}
            )
            assert response.status_code == 200, response.text
            headers[name] = {"Authorization": f"Bearer {response.json()['token']}"}
        client.cookies.clear()
        yield Center(client=client, state=state, headers=headers)
