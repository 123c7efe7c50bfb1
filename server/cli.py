"""``civicwatch server``: run the API, the review page and the MQTT ingest.

The lead's ``civicwatch`` CLI calls :func:`add_parser` to register the subcommand.
:func:`server_database` opens the server's database for the admin command groups
(``keys``, ``users``) that work on it directly.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from server.core.config import Settings
    from server.evidence_integrity import IntegrityReport
    from server.org.config import UnitsTree

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_USAGE = 2  # bad arguments or unreadable configuration, for every server command group


class ConfigurationError(Exception):
    """The server settings named on the command line are invalid or unreadable."""


@contextmanager
def server_database(config: Path | None) -> Iterator[sessionmaker[Session]]:
    """Sessions on the server's database, migrated to the current schema first.

    The settings come from ``config`` and ``CIVICWATCH_*`` variables, as for the server;
    the engine is disposed when the block ends.

    Args:
        config: Server settings YAML, or None for the environment alone.

    Yields:
        A session factory bound to the migrated database.

    Raises:
        ConfigurationError: The settings are invalid.
    """
    from server.core.config import SettingsError, load_settings
    from server.core.db import make_engine, make_session_factory, run_migrations

    try:
        settings = load_settings(config)
    except SettingsError as exc:
        raise ConfigurationError(str(exc)) from exc
    engine = make_engine(settings.database_url)
    try:
        run_migrations(engine)
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``server`` subcommand; its ``func(args) -> int`` runs it."""
    parser = subparsers.add_parser(
        "server",
        help="run the review server (API, review page, MQTT ingest)",
        description=(
            "Run the civicwatch server: migrate the database, subscribe to edge events and "
            "evidence over MQTT, and serve the API (/api/v1, docs at /docs) and the review "
            "page (/). Settings come from --config and CIVICWATCH_* environment variables "
            "(environment wins); the MQTT user name and password come from "
            "CIVICWATCH_MQTT_USERNAME and CIVICWATCH_MQTT_PASSWORD only."
        ),
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="YAML file of server settings (database_url, evidence_dir, mqtt: {host: ...}, ...)",
    )
    parser.add_argument("--host", help="address to bind the HTTP server to (overrides http_host)")
    parser.add_argument(
        "--port", type=int, help="TCP port of the HTTP server (overrides http_port)"
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help=(
            "allow auth_enabled false on an address that is not loopback (anyone who reaches "
            "the port acts as admin); without it such a server refuses to start"
        ),
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help=(
            "validate the configuration and the units file (units_file) it names, print it "
            "(without secrets), check that the templates, static files and migrations are "
            "installed and the database is reachable (and takes the units file), run the "
            "quick evidence pass (every evidence row's file exists with its size; "
            "--check-evidence hashes them), and exit (1 when any is missing or corrupt)"
        ),
    )
    parser.add_argument(
        "--check-evidence",
        action="store_true",
        help=(
            "hash every evidence file against the database's evidence rows, print how many "
            "are missing, corrupt (bytes that do not hash to their name) or orphans (no row), "
            "with examples, and exit (1 when any is missing or corrupt); deletes nothing"
        ),
    )
    parser.set_defaults(func=run)
    actions = parser.add_subparsers(dest="server_command", metavar="ACTION")
    retention = actions.add_parser(
        "retention",
        help="delete rejected and expired cases and evidence nothing refers to, now",
        description=(
            "Apply the retention policy (the settings' retention block) once: rejected cases "
            "after rejected_days (with their evidence and disposal photos), any case after "
            "case_days, evidence nothing refers to after orphan_evidence_days. Cases on legal "
            "hold are kept, and so are stored bytes that any case, disposal photo, camera "
            "snapshot, zone reference or model file names. The running server applies the "
            "same policy every retention.interval_s."
        ),
    )
    retention.add_argument("--config", type=Path, metavar="FILE", help="server settings YAML")
    retention.add_argument(
        "--dry-run", action="store_true", help="say what would be deleted, delete nothing"
    )
    retention.set_defaults(func=run_retention)


def run_retention(args: argparse.Namespace) -> int:
    """``civicwatch server retention``: apply the policy once and report what went."""
    from server.core.config import SettingsError, load_settings
    from server.core.db import utcnow
    from server.evidence_store import EvidenceBackendError, open_evidence_store
    from server.retention import apply_retention

    try:
        settings = load_settings(args.config)
        with server_database(args.config) as factory:
            report = apply_retention(
                factory,
                open_evidence_store(settings),
                settings.retention,
                now=utcnow(),
                dry_run=args.dry_run,
            )
    except (SettingsError, ConfigurationError, EvidenceBackendError) as exc:
        sys.stderr.write(f"civicwatch server retention: {exc}\n")
        return EXIT_USAGE
    sys.stdout.write(f"retention: {report.summary()}\n")
    return EXIT_OK


def _evidence_report(settings: Settings, *, full: bool) -> IntegrityReport:
    """One pass of :mod:`server.evidence_integrity` over the configured database and store.

    Raises:
        SQLAlchemyError: The database cannot be read.
        EvidenceBackendError: The evidence store cannot be opened.
    """
    from server.core.db import make_engine, make_session_factory
    from server.evidence_integrity import check_evidence
    from server.evidence_store import open_evidence_store

    engine = make_engine(settings.database_url)
    try:
        return check_evidence(
            make_session_factory(engine), open_evidence_store(settings), full=full
        )
    finally:
        engine.dispose()


def _write_report(report: IntegrityReport) -> None:
    sys.stdout.write(f"evidence: {report.summary()}\n")
    for line in report.problems():
        sys.stdout.write(f"  {line}\n")


def _read_units(path: Path) -> tuple[UnitsTree | None, list[str]]:
    """The checked units file, or every problem with it (``file:line: ...``)."""
    from contracts.yamlconfig import ConfigError
    from server.org.config import load_units_file

    try:
        return load_units_file(path), []
    except ConfigError as exc:
        return None, exc.problems


def _units_against_database(engine: Engine, tree: UnitsTree) -> str | None:
    """Why the database would refuse ``tree`` at start (a unit changing its level or its
    parent's level), or ``None``: applied in a transaction that is rolled back. Only on a
    schema at the migrations' head; a database to be migrated holds no units to contradict.
    """
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from server.core.db import alembic_config, make_session_factory, utcnow
    from server.org.units import UnitError, apply_units

    alembic_log = logging.getLogger("alembic")
    level = alembic_log.level
    alembic_log.setLevel(logging.WARNING)  # its INFO lines would come before the answer
    try:
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        with engine.connect() as connection:
            if MigrationContext.configure(connection).get_current_revision() != head:
                return None
    finally:
        alembic_log.setLevel(level)
    with make_session_factory(engine)() as session:
        try:
            apply_units(session, tree=tree, now=utcnow())
        except UnitError as exc:
            return str(exc)
        finally:
            session.rollback()
    return None


def _units_start_error(settings: Settings) -> str | None:
    """One line saying why the server would fail to load its units file at start."""
    from sqlalchemy.exc import SQLAlchemyError

    from server.core.db import make_engine

    path = settings.units_file
    if path is None:
        return None
    tree, problems = _read_units(path)
    if tree is None:
        more = (
            f" (and {len(problems) - 1} more: 'civicwatch units validate {path}' lists them)"
            if len(problems) > 1
            else ""
        )
        return f"invalid units_file: {problems[0]}{more}"
    engine = make_engine(settings.database_url)
    try:
        refused = _units_against_database(engine, tree)
    except SQLAlchemyError:
        return None  # the server's own start reports an unreachable database
    finally:
        engine.dispose()
    return None if refused is None else f"units_file {path} contradicts the database: {refused}"


def _check_install(settings: Settings) -> int:
    """``--check`` beyond the settings: package data found, database reachable; 0 when ok."""
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its INFO lines are noise here
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy.exc import SQLAlchemyError

    from server.core.db import MIGRATIONS_DIR, alembic_config, make_engine
    from server.evidence_store import EvidenceBackendError
    from server.main import STATIC_DIR, TEMPLATES_DIR

    problems: list[str] = []
    for name, folder, pattern in (
        ("templates", TEMPLATES_DIR, "*.html"),
        ("static", STATIC_DIR, "*"),
    ):
        if any(folder.glob(pattern)):
            sys.stdout.write(f"{name}: {folder}\n")
        else:
            problems.append(f"{name}: no {pattern} files in {folder}")
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        problems.append(f"migrations: none found in {MIGRATIONS_DIR}")
    else:
        sys.stdout.write(f"migrations: {MIGRATIONS_DIR} (head {head})\n")
    engine = make_engine(settings.database_url)
    current: str | None = None
    reachable = False
    try:
        try:
            with engine.connect() as connection:
                current = MigrationContext.configure(connection).get_current_revision()
            reachable = True
            state = "up to date" if current == head else "the server migrates it at start"
            sys.stdout.write(f"database: reachable, at revision {current or 'none'} ({state})\n")
        except SQLAlchemyError as exc:
            problems.append(f"database: not reachable: {type(exc).__name__}: {exc.args[0]}")
        problems.extend(_check_units(settings, engine if reachable else None))
    finally:
        engine.dispose()
    if reachable and current is None:
        sys.stdout.write("evidence: not checked (no schema yet, so no evidence rows)\n")
    elif reachable:
        try:
            report = _evidence_report(settings, full=False)
        except (SQLAlchemyError, EvidenceBackendError) as exc:
            problems.append(f"evidence: not checked: {type(exc).__name__}: {exc}")
        else:
            _write_report(report)
            if not report.ok:
                problems.append(
                    f"evidence: {report.missing.count} missing, {report.corrupt.count} corrupt "
                    "(--check-evidence hashes every file)"
                )
    for problem in problems:
        sys.stderr.write(f"civicwatch server --check: {problem}\n")
    sys.stdout.write("ok\n" if not problems else "")
    return 1 if problems else 0


def _check_units(settings: Settings, engine: Engine | None) -> list[str]:
    """``--check`` of ``units_file``: the file (every problem at its line) and, on a
    reachable database at the schema's head, whether the database takes it."""
    from sqlalchemy.exc import SQLAlchemyError

    path = settings.units_file
    if path is None:
        sys.stdout.write("units_file: none (units are managed in the database)\n")
        return []
    tree, problems = _read_units(path)
    if tree is None:
        return [f"units_file: {problem}" for problem in problems]
    try:
        refused = None if engine is None else _units_against_database(engine, tree)
    except SQLAlchemyError as exc:
        return [f"units_file: not checked against the database: {type(exc).__name__}"]
    if refused is not None:
        return [f"units_file: {path}: the database refuses it: {refused}"]
    sys.stdout.write(f"units_file: {path} ({len(tree.units)} units, {len(tree.cameras)} cameras)\n")
    return []


def _check_evidence(settings: Settings) -> int:
    """``--check-evidence``: the full pass of :mod:`server.evidence_integrity`; 0 when ok."""
    from sqlalchemy.exc import SQLAlchemyError

    from server.evidence_store import EvidenceBackendError

    try:
        report = _evidence_report(settings, full=True)
    except SQLAlchemyError as exc:
        sys.stderr.write(f"civicwatch server --check-evidence: database: {exc.args[0]}\n")
        return 1
    except EvidenceBackendError as exc:
        sys.stderr.write(f"civicwatch server --check-evidence: evidence store: {exc}\n")
        return 1
    _write_report(report)
    sys.stdout.write("ok\n" if report.ok else "")
    return 0 if report.ok else 1


def run(args: argparse.Namespace) -> int:
    """Validate settings and run uvicorn until interrupted; returns the exit status."""
    from sqlalchemy.engine import make_url

    from server.core.config import SettingsError, load_settings

    overrides: dict[str, object] = {}
    if args.host is not None:
        overrides["http_host"] = args.host
    if args.port is not None:
        overrides["http_port"] = args.port
    if args.insecure:
        overrides["insecure"] = True
    try:
        settings = load_settings(args.config, **overrides)
    except SettingsError as exc:
        sys.stderr.write(f"civicwatch server: invalid configuration: {exc}\n")
        return 2
    if args.check:
        dump = settings.model_dump(mode="json")
        dump["mqtt_login"] = "<set>" if settings.mqtt.credentials() is not None else None
        dump["database_url"] = make_url(settings.database_url).render_as_string(hide_password=True)
        sys.stdout.write("configuration OK\n")
        for key, value in dump.items():
            sys.stdout.write(f"  {key}: {value}\n")
        return _check_install(settings)
    if args.check_evidence:
        return _check_evidence(settings)
    # Alembic announces each of its plugins at INFO on every start; keep that quiet.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    units_error = _units_start_error(settings)
    if units_error is not None:  # the server would fail at start with a traceback
        sys.stderr.write(f"civicwatch server: {units_error}\n")
        return 2

    import uvicorn

    from server.main import create_app

    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        lifespan="on",
        proxy_headers=False,
    )
    logger.info(
        "review page at http://%s:%d/ (API docs at /docs)", settings.http_host, settings.http_port
    )
    server = uvicorn.Server(config)
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C after its graceful shutdown
        logger.info("server stopped (interrupted)")
        return 130 if server.started else 1
    return 0 if server.started else 1
