"""Schema and time handling on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session, sessionmaker

from server.all_tables import Base
from server.core.db import run_migrations
from server.tables import Edge


def _head() -> str:
    from alembic.script import ScriptDirectory

    from server.core.db import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def test_migrations_build_exactly_the_mapped_schema(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
    tables = set(inspect(engine).get_table_names())
    assert {"cases", "case_events", "evidence", "case_evidence", "case_reviews", "edges"} <= tables


def test_migrating_twice_is_harmless(engine: Engine) -> None:
    run_migrations(engine)
    with engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == _head()


def test_times_come_back_aware_in_utc(session_factory: sessionmaker[Session]) -> None:
    shanghai = timezone(timedelta(hours=8))
    local = datetime(2024, 5, 1, 16, 30, 15, 123456, tzinfo=shanghai)
    with session_factory() as session, session.begin():
        session.add(
            Edge(edge_id="e", availability=None, first_seen_at=local, last_message_at=local)
        )
    with session_factory() as session:
        edge = session.get(Edge, "e")
        assert edge is not None
        assert edge.first_seen_at == local
        assert (
            edge.first_seen_at.tzinfo is not None and edge.first_seen_at.utcoffset() == timedelta(0)
        )
        assert edge.first_seen_at.hour == 8
        # Comparisons in SQL use UTC as well.
        later = datetime(2024, 5, 1, 8, 30, 16, tzinfo=UTC)
        assert session.scalars(select(Edge).where(Edge.first_seen_at < later)).one().edge_id == "e"


def test_naive_times_are_refused(session_factory: sessionmaker[Session]) -> None:
    naive = datetime(2024, 5, 1, 8, 0, 0)
    with session_factory() as session:
        session.add(
            Edge(edge_id="n", availability=None, first_seen_at=naive, last_message_at=naive)
        )
        with pytest.raises(StatementError, match="naive datetime"):
            session.flush()
