"""``civicwatch zones ...``: command-line tools for zone files.

``civicwatch zones validate FILE...`` prints ``FILE: ok`` for each good file, or every
problem of every bad file (each naming the file, line, zone and what is wrong) and exits 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from zones.config import check_zone_files


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the ``zones`` command and its subcommands.

    Args:
        subparsers: The parent parser's ``add_subparsers()`` result; each leaf command sets
            ``func`` so that ``args.func(args)`` runs it and returns the exit status.
    """
    zones = subparsers.add_parser(
        "zones",
        help="work with per-camera zone files",
        description="Work with per-camera zone files (YAML, polygons in 0..1 of the frame).",
    )
    commands = zones.add_subparsers(dest="zones_command", metavar="COMMAND", required=True)
    validate = commands.add_parser(
        "validate",
        help="check zone files and report every problem",
        description=(
            "Check zone files: three or more points per polygon, no self-intersection, "
            "coordinates in 0..1, known keys and object names, unique zone ids, parseable "
            "legal and business hours, keys that belong to the zone's kind, a shop and a "
            "door line inside the zone for every shop frontage, crossing lines inside their "
            "road. Prints 'FILE: ok' per good file; otherwise prints every problem as "
            "FILE:LINE: zone 'ID': PROBLEM and exits with status 1."
        ),
    )
    validate.add_argument(
        "files", nargs="+", type=Path, metavar="FILE", help="zone file(s) to check (YAML)"
    )
    validate.set_defaults(func=run_validate)


def run_validate(args: argparse.Namespace) -> int:
    """Validate ``args.files``; return 0 when all pass, 1 otherwise."""
    status = 0
    for check in check_zone_files(args.files):
        if check.zones is None:
            status = 1
            for problem in check.problems:
                print(problem, file=sys.stderr)
        else:
            print(f"{check.path}: ok ({check.zones.camera_id}, {len(check.zones.zones)} zone(s))")
    return status
