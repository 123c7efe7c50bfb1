"""``civicwatch dataset export``: reviewed cases' clean frames as a YOLO training set.

Reads the server's database and evidence store through the server settings (``--config``
and ``CIVICWATCH_*``), as the server does; see :mod:`server.dataset_export`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import datetime
from pathlib import Path

from server.cli import EXIT_OK, EXIT_USAGE, ConfigurationError, server_database

logger = logging.getLogger(__name__)


def _aware(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value!r}") from exc
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{value!r} needs a time zone, e.g. 2026-12-01T00:00:00+08:00"
        )
    return parsed


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``dataset export``."""
    parser = subparsers.add_parser(
        "dataset",
        help="export reviewed cases as a training set (YOLO format + manifest)",
        description="Turn reviewers' verdicts into training data for the detector.",
    )
    commands = parser.add_subparsers(dest="dataset_command", metavar="ACTION", required=True)
    export = commands.add_parser(
        "export",
        help="write the clean frames of reviewed cases in YOLO format with a manifest",
        description=(
            "Confirmed cases give their boxes (as corrected, added boxes too) as labels; a "
            "case rejected as wrong_object is kept as a hard negative with the wrong box "
            "removed or relabelled; not_a_violation and wrong_place keep the boxes (the "
            "objects were right); duplicate, evidence_unusable and free-text-only rejects "
            "are left out. Frames are split train/val/test by camera and time block and "
            "near-duplicates are folded; every frame's bytes are checked against their "
            "sha256 (a missing or corrupt one is skipped and listed). Writes images/, "
            "labels/, data.yaml, manifest.jsonl and export.json into a new folder (written "
            "aside and renamed at the end). Exit 0: exported; 2: bad arguments, an existing "
            "non-empty --out, or unreadable settings."
        ),
    )
    export.add_argument("--out", type=Path, required=True, metavar="DIR", help="new folder")
    export.add_argument(
        "--since", type=_aware, default=None, help="cases first seen at or after (ISO 8601, zone)"
    )
    export.add_argument("--camera", default=None, help="only this camera id")
    export.add_argument(
        "--status",
        action="append",
        choices=["confirmed", "rejected"],
        default=None,
        help="only cases whose final verdict gave this status (repeatable; default both)",
    )
    export.add_argument(
        "--block-hours",
        type=float,
        default=24.0,
        help="time block of the split: a camera's frames of one block share a split (24)",
    )
    export.add_argument("--val-fraction", type=float, default=0.15, help="share of groups (0.15)")
    export.add_argument("--test-fraction", type=float, default=0.15, help="share of groups (0.15)")
    export.add_argument("--config", type=Path, metavar="FILE", help="server settings YAML")
    export.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    """Run ``dataset export``; returns the exit status."""
    from sqlalchemy.exc import SQLAlchemyError

    from server.core.config import SettingsError, load_settings
    from server.dataset_export.plan import SplitPolicy
    from server.dataset_export.writer import ExportError, ExportFilter, export_dataset
    from server.evidence_store import EvidenceBackendError, open_evidence_store

    try:
        policy = SplitPolicy(args.block_hours, args.val_fraction, args.test_fraction)
        store = open_evidence_store(load_settings(args.config))
    except (ValueError, SettingsError, EvidenceBackendError) as exc:
        sys.stderr.write(f"civicwatch dataset export: {exc}\n")
        return EXIT_USAGE
    filt = ExportFilter(
        since=args.since,
        camera_id=args.camera,
        outcomes=frozenset(args.status or ("confirmed", "rejected")),
    )
    try:
        with server_database(args.config) as factory:
            summary = export_dataset(factory, store, args.out, filt=filt, policy=policy)
    except (ConfigurationError, ExportError) as exc:
        sys.stderr.write(f"civicwatch dataset export: {exc}\n")
        return EXIT_USAGE
    except SQLAlchemyError as exc:
        sys.stderr.write(
            f"civicwatch dataset export: cannot read the database ({type(exc).__name__})\n"
        )
        return EXIT_USAGE
    sys.stdout.write(summary.text() + "\n")
    return EXIT_OK
