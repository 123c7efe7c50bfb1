"""Migration 0006 (SQLite and PostgreSQL): new statuses and roles pass the CHECK constraints."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from server.core.db import alembic_config

NEW_STATUSES = ("dispatched", "disposed", "verified", "closed")


def _insert_case(engine: Engine, status: str, event_id: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO cases (event_id, edge_id, camera_id, zone_id, rule, violation_type,"
                " label, confidence, box_x1, box_y1, box_x2, box_y2, first_seen, last_seen,"
                " dwell_s, phase, last_sent_at, model_name, model_version, model_sha256, status,"
                " created_at, updated_at) VALUES (:e, 'edge1', 'cam1', 'z', 'r', 'street_stall',"
                " 'person', 0.9, 0, 0, 1, 1, '2024-05-01 09:00:00+00:00',"
                " '2024-05-01 09:00:00+00:00', 1, 'start', '2024-05-01 09:00:00+00:00', 'm',"
                " '1', 'x', :s, '2024-05-01 09:00:00+00:00', '2024-05-01 09:00:00+00:00')"
            ),
            {"e": event_id, "s": status},
        )


@pytest.mark.parametrize("status", NEW_STATUSES)
def test_new_statuses_are_accepted(engine: Engine, status: str) -> None:
    _insert_case(engine, status, f"ev-{status}")


def test_unknown_status_is_still_refused(engine: Engine) -> None:
    with pytest.raises(IntegrityError):
        _insert_case(engine, "bogus", "ev-bogus")


def test_downgrade_to_0005_and_back(engine: Engine) -> None:
    _insert_case(engine, "closed", "ev-closed")
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0005")
    with engine.connect() as connection:
        status = connection.execute(text("SELECT status FROM cases")).scalar_one()
        tables = set(engine.dialect.get_table_names(connection))
    assert status == "confirmed"
    assert "units" not in tables and "case_transitions" not in tables
    with pytest.raises(IntegrityError):
        _insert_case(engine, "dispatched", "ev-after-downgrade")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0006")
    _insert_case(engine, "dispatched", "ev-again")
