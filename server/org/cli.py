"""``civicwatch units``: check a units file, or load it into the server's database.

``validate FILE`` reads and checks the file alone (every problem as ``file:line: ...``,
exit 1); ``load FILE`` upserts its units and cameras into the database of the server
settings (``--config``), as the server does at start when ``units_file`` is set.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``units validate`` and ``units load``."""
    parser = subparsers.add_parser(
        "units",
        help="the units tree (市/区/街镇/teams) and camera registry: validate or load",
        description=(
            "A units file (configs/units.yaml) lists the units as a tree, each 街镇 with its "
            "cameras. validate checks it; load upserts it into the server's database (units "
            "and cameras not in the file are kept)."
        ),
    )
    commands = parser.add_subparsers(dest="units_command", metavar="ACTION", required=True)
    validate = commands.add_parser("validate", help="check a units file")
    validate.add_argument("file", type=Path, help="the units YAML")
    validate.set_defaults(func=run_validate)
    load = commands.add_parser("load", help="upsert a units file into the server's database")
    load.add_argument("file", type=Path, help="the units YAML")
    load.add_argument("--config", type=Path, metavar="FILE", help="server settings YAML")
    load.set_defaults(func=run_load)


def run_validate(args: argparse.Namespace) -> int:
    from contracts.yamlconfig import ConfigError
    from server.org.config import load_units_file

    try:
        tree = load_units_file(args.file)
    except ConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    sys.stdout.write(f"{args.file}: {len(tree.units)} units, {len(tree.cameras)} cameras, ok\n")
    return 0


def run_load(args: argparse.Namespace) -> int:
    from contracts.yamlconfig import ConfigError
    from server.cli import ConfigurationError, server_database
    from server.core.db import utcnow
    from server.org.units import UnitError, load_units

    try:
        with server_database(args.config) as factory:
            report = load_units(factory, args.file, now=utcnow())
    except (ConfigError, ConfigurationError, UnitError) as exc:
        sys.stderr.write(f"civicwatch units load: {exc}\n")
        return 1
    sys.stdout.write(f"{args.file}: {report.summary()}\n")
    return 0
