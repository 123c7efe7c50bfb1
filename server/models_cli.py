"""``civicwatch models register|assign|rollback|list``: the server's side of model rollout.

:func:`add_commands` adds these actions to the ``models`` group of the ``civicwatch`` CLI
(training contributes ``gate``). They work on the server's database and evidence store
directly (run them where the server's settings are) and publish each new assignment
retained on the edge's model topic with the server's MQTT settings.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from server.cli import EXIT_OK, EXIT_USAGE, ConfigurationError, server_database

if TYPE_CHECKING:
    from contracts.model_rollout import ModelAssignmentMessage
    from server.evidence_store import EvidenceBackend

logger = logging.getLogger(__name__)

EXIT_CONFLICT = 3


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``register``, ``assign``, ``rollback`` and ``list``."""
    register = commands.add_parser(
        "register",
        help="let the server serve a model file to edges (by sha256)",
        description="Store the file by its sha256 in the evidence store and list it.",
    )
    register.add_argument("--file", type=Path, required=True, help="the .onnx model file")
    register.add_argument("--name", required=True)
    register.add_argument("--version", required=True)
    _common(register)
    register.set_defaults(func=run_register)

    assign = commands.add_parser(
        "assign",
        help="assign a registered model to edges (retained on their model topic)",
        description=(
            "Assign a model to one edge (--edge, repeatable) or to every edge of a unit "
            "(--group UNIT); with --canary EDGE only that edge of the group gets it now, "
            "marked as the canary: assign the group after its agreement is reported. Each "
            "edge's assignment is conditional on the revision read when the command started: "
            "if another operator assigned meanwhile, this one stops with a conflict (exit 3) "
            "and changes nothing."
        ),
    )
    assign.add_argument("--model", required=True, help="NAME@VERSION or sha256 (registered)")
    target = assign.add_mutually_exclusive_group(required=True)
    target.add_argument("--edge", action="append", help="edge id (repeatable)")
    target.add_argument("--group", help="unit id: every edge with a camera in it or below")
    assign.add_argument("--canary", default=None, help="with --group: this edge first, alone")
    assign.add_argument(
        "--expect-revision",
        type=int,
        default=None,
        help="(one edge) the revision you saw in 'models list'; default: read now",
    )
    _common(assign)
    assign.set_defaults(func=run_assign)

    rollback = commands.add_parser(
        "rollback", help="give an edge its previous model back (the same retained way)"
    )
    rollback.add_argument("--edge", required=True)
    rollback.add_argument("--expect-revision", type=int, default=None)
    _common(rollback)
    rollback.set_defaults(func=run_rollback)

    listing = commands.add_parser("list", help="registered model files and assignments")
    listing.add_argument("--config", type=Path, metavar="FILE", help="server settings YAML")
    listing.set_defaults(func=run_list)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, metavar="FILE", help="server settings YAML")
    parser.add_argument("--by", default=None, help="operator name (default: the OS user)")
    parser.add_argument(
        "--no-publish", action="store_true", help="record only (the broker is unreachable)"
    )


def _publish(config: Path | None, messages: list[ModelAssignmentMessage], no_publish: bool) -> int:
    from server.core.config import load_settings
    from server.rollout.publish import PublishError, publish_assignments

    settings = load_settings(config)
    if no_publish or not settings.mqtt_enabled:
        sys.stdout.write("recorded; not published (MQTT off or --no-publish)\n")
        return EXIT_OK
    try:
        publish_assignments(settings.mqtt, messages)
    except PublishError as exc:
        sys.stderr.write(
            f"civicwatch models: recorded but not published: {exc}; run the command again "
            "with the same model once the broker is back (edges read the retained message)\n"
        )
        return EXIT_USAGE
    return EXIT_OK


def _store(config: Path | None) -> EvidenceBackend:
    from server.core.config import load_settings
    from server.evidence_store import open_evidence_store

    return open_evidence_store(load_settings(config))


def run_register(args: argparse.Namespace) -> int:
    from server.core.db import utcnow
    from server.rollout.service import RolloutError, register_model

    try:
        data = args.file.read_bytes()
        with server_database(args.config) as factory, factory() as session:
            row = register_model(
                session,
                _store(args.config),
                data=data,
                name=args.name,
                version=args.version,
                by=args.by or getpass.getuser(),
                now=utcnow(),
            )
            session.commit()
            sys.stdout.write(f"registered {row.name}@{row.version} sha256 {row.sha256}\n")
    except (OSError, RolloutError, ConfigurationError) as exc:
        sys.stderr.write(f"civicwatch models register: {exc}\n")
        return EXIT_USAGE
    return EXIT_OK


def run_assign(args: argparse.Namespace) -> int:
    from server.core.db import utcnow
    from server.rollout.service import (
        AssignmentConflictError,
        RolloutError,
        assign,
        current,
        edges_of_unit,
        find_model,
    )

    try:
        with server_database(args.config) as factory, factory() as session:
            model = find_model(session, args.model)
            if args.group:
                edges = edges_of_unit(session, args.group)
                if not edges:
                    raise RolloutError(f"unit {args.group} has no edge with a camera")
                if args.canary:
                    if args.canary not in edges:
                        raise RolloutError(f"canary {args.canary} is not an edge of {args.group}")
                    edges = [args.canary]
            else:
                edges = list(dict.fromkeys(args.edge))
            if args.expect_revision is not None and len(edges) != 1:
                raise RolloutError("--expect-revision goes with one edge")
            seen: dict[str, int | None] = {
                e: r.revision for e, r in current(session, edges).items()
            }
            if args.expect_revision is not None:
                seen[edges[0]] = args.expect_revision
            done = assign(
                session,
                edge_ids=edges,
                model=model,
                seen=seen,
                canary=bool(args.canary),
                by=args.by or getpass.getuser(),
                now=utcnow(),
            )
            session.commit()
    except AssignmentConflictError as exc:
        sys.stderr.write(f"civicwatch models assign: conflict: {exc}\n")
        return EXIT_CONFLICT
    except (RolloutError, ConfigurationError) as exc:
        sys.stderr.write(f"civicwatch models assign: {exc}\n")
        return EXIT_USAGE
    for item in done:
        sys.stdout.write(
            f"edge {item.edge_id}: {model.name}@{model.version} (revision {item.revision})\n"
        )
    return _publish(args.config, [item.message for item in done], args.no_publish)


def run_rollback(args: argparse.Namespace) -> int:
    from server.core.db import utcnow
    from server.rollout.service import AssignmentConflictError, RolloutError, current, rollback

    try:
        with server_database(args.config) as factory, factory() as session:
            now_row = current(session, [args.edge]).get(args.edge)
            seen = (
                args.expect_revision
                if args.expect_revision is not None
                else (now_row.revision if now_row is not None else None)
            )
            done = rollback(
                session,
                edge_id=args.edge,
                seen=seen,
                by=args.by or getpass.getuser(),
                now=utcnow(),
            )
            session.commit()
    except AssignmentConflictError as exc:
        sys.stderr.write(f"civicwatch models rollback: conflict: {exc}\n")
        return EXIT_CONFLICT
    except (RolloutError, ConfigurationError) as exc:
        sys.stderr.write(f"civicwatch models rollback: {exc}\n")
        return EXIT_USAGE
    model = done.message.model
    sys.stdout.write(
        f"edge {done.edge_id}: back to {model.name}@{model.version} (revision {done.revision})\n"
    )
    return _publish(args.config, [done.message], args.no_publish)


def run_list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from server.rollout.tables import ModelAssignmentRow, ModelFileRow

    try:
        with server_database(args.config) as factory, factory() as session:
            files = {r.sha256: r for r in session.scalars(select(ModelFileRow))}
            for row in files.values():
                sys.stdout.write(f"file {row.name}@{row.version} {row.sha256} {row.size_bytes} B\n")
            for a in session.scalars(
                select(ModelAssignmentRow).order_by(ModelAssignmentRow.edge_id)
            ):
                f = files.get(a.sha256)
                name = f"{f.name}@{f.version}" if f else a.sha256
                reported = (
                    f"; edge reports revision {a.reported_revision} {a.reported_state}"
                    + (f", agreement {a.agreement:.2f}" if a.agreement is not None else "")
                    if a.reported_revision is not None
                    else "; no report from the edge yet"
                )
                sys.stdout.write(
                    f"edge {a.edge_id}: {name} revision {a.revision} ({a.action}"
                    f"{', canary' if a.canary else ''}) by {a.assigned_by} "
                    f"at {a.assigned_at:%Y-%m-%d %H:%M}{reported}\n"
                )
    except ConfigurationError as exc:
        sys.stderr.write(f"civicwatch models list: {exc}\n")
        return EXIT_USAGE
    return EXIT_OK
