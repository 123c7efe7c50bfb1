"""Alembic environment for the civicwatch server.

The database URL comes from the server's settings, never from ``alembic.ini``: the
server passes an open connection in ``config.attributes["connection"]``
(:func:`server.core.db.run_migrations`); run standalone (``alembic`` CLI with
``script_location`` pointing here), it builds :class:`server.core.config.Settings`
from ``CIVICWATCH_*`` environment variables.

A new revision, after changing :mod:`server.tables` (review what it generates)::

    CIVICWATCH_DATABASE_URL=sqlite:////tmp/rev.db .venv/bin/python -c "from alembic import \
    command; from server.core.db import alembic_config, make_engine, run_migrations; \
    run_migrations(make_engine('sqlite:////tmp/rev.db')); \
    command.revision(alembic_config(), 'what changed', autogenerate=True, rev_id='0002')"
"""

from __future__ import annotations

import logging

from alembic import context
from sqlalchemy.engine import Connection

from server.all_tables import Base
from server.core.config import load_settings
from server.core.db import make_engine

logger = logging.getLogger("server.migrations")

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit SQL for the URL from settings, without connecting."""
    settings = load_settings()
    context.configure(
        url=settings.database_url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate through the connection the server passed in, or one from settings."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(load_settings().database_url)
    try:
        with engine.begin() as own_connection:
            _run(own_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
