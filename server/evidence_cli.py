"""``civicwatch evidence``: verify the evidence chain offline and export case packages.

The lead's ``civicwatch`` CLI calls :func:`add_parser` to register the command group.
Verification reads the database and evidence directory directly (the server need not
run) or, for ``--package``, nothing but the package.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from server.cli import EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from server.evidence_store import EvidenceBackend

logger = logging.getLogger(__name__)

EXIT_VERIFIED = EXIT_OK
EXIT_MISMATCH = 1


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``evidence verify`` and ``evidence export``."""
    parser = subparsers.add_parser(
        "evidence",
        help="verify the signed evidence chain; export a case package",
        description=(
            "Check evidence against the edges' signed hash chains without the server: a "
            "case, an edge's whole chain, or an exported case package. Every hash is "
            "recomputed from the stored bytes; the report names each record, message or "
            "file that does not match. Exit status 0: verified, 1: something does not "
            "match, 2: bad arguments or unreadable configuration."
        ),
    )
    commands = parser.add_subparsers(dest="evidence_command", metavar="ACTION", required=True)

    verify = commands.add_parser(
        "verify",
        help="verify a case, an edge's chain, or a case package",
        description=(
            "Verify exactly one of: --case (the case's records and every record between "
            "them, its event messages, its evidence files), --edge (the edge's whole chain "
            "from seq 1 and everything it fixes), --package (an exported package, offline)."
        ),
    )
    target = verify.add_mutually_exclusive_group(required=True)
    target.add_argument("--case", type=int, metavar="CASE_ID", help="case id to verify")
    target.add_argument("--edge", metavar="EDGE_ID", help="edge whose whole chain to verify")
    target.add_argument(
        "--package", type=Path, metavar="PATH", help="exported case package (.zip or directory)"
    )
    verify.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="server settings YAML (database_url, evidence_dir); CIVICWATCH_* env overrides",
    )
    verify.add_argument(
        "--public-key",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="trusted edge public key (PEM or base64) for --package; repeatable; without "
        "it the keys inside the package are used",
    )
    verify.set_defaults(func=run_verify)

    export = commands.add_parser(
        "export",
        help="write a self-contained, offline-verifiable case package",
        description=(
            "Write one case's signed chain records (and every record between them), its "
            "event messages, its evidence files and the edge's public keys to a .zip file "
            "or a new directory; 'civicwatch evidence verify --package' checks it offline."
        ),
    )
    export.add_argument("case_id", type=int, metavar="CASE_ID", help="the case to export")
    export.add_argument(
        "--out", type=Path, required=True, metavar="PATH", help="PATH.zip or a new directory"
    )
    export.add_argument("--config", type=Path, metavar="FILE", help="server settings YAML")
    export.set_defaults(func=run_export)


def _open(config: Path | None) -> tuple[sessionmaker[Session], EvidenceBackend] | None:
    from server.core.config import SettingsError, load_settings
    from server.core.db import make_engine, make_session_factory
    from server.evidence_store import EvidenceBackendError, open_evidence_store

    try:
        settings = load_settings(config)
        store = open_evidence_store(settings)
    except (SettingsError, EvidenceBackendError) as exc:
        sys.stderr.write(f"civicwatch evidence: invalid configuration: {exc}\n")
        return None
    engine = make_engine(settings.database_url)
    return make_session_factory(engine), store


def run_verify(args: argparse.Namespace) -> int:
    """Run ``evidence verify``; prints the report, returns the exit status."""
    from sqlalchemy.exc import SQLAlchemyError

    from contracts.chain import ChainError
    from server.chain_verify import (
        VerifyReport,
        keys_from_files,
        verify_case,
        verify_edge,
        verify_package,
    )

    report: VerifyReport
    if args.package is not None:
        try:
            trusted = keys_from_files(args.public_key) if args.public_key else None
        except ChainError as exc:
            sys.stderr.write(f"civicwatch evidence verify: {exc}\n")
            return EXIT_USAGE
        if not args.package.exists():
            sys.stderr.write(f"civicwatch evidence verify: {args.package} does not exist\n")
            return EXIT_USAGE
        report = verify_package(args.package, trusted_keys=trusted)
    else:
        if args.public_key:
            sys.stderr.write("civicwatch evidence verify: --public-key is for --package\n")
            return EXIT_USAGE
        opened = _open(args.config)
        if opened is None:
            return EXIT_USAGE
        factory, store = opened
        try:
            with factory() as session:
                if args.case is not None:
                    report = verify_case(session, store, case_id=args.case)
                else:
                    report = verify_edge(session, store, edge_id=args.edge)
        except SQLAlchemyError as exc:
            sys.stderr.write(
                f"civicwatch evidence verify: cannot read the database ({type(exc).__name__}); "
                "is database_url right and the schema migrated (start the server once)?\n"
            )
            return EXIT_USAGE
    sys.stdout.write("\n".join(report.lines()) + "\n")
    return EXIT_VERIFIED if report.ok else EXIT_MISMATCH


def run_export(args: argparse.Namespace) -> int:
    """Run ``evidence export``; returns the exit status."""
    from sqlalchemy.exc import SQLAlchemyError

    from server.chain_verify import export_case
    from server.core.db import utcnow

    opened = _open(args.config)
    if opened is None:
        return EXIT_USAGE
    factory, store = opened
    try:
        with factory() as session:
            out = export_case(session, store, case_id=args.case_id, out=args.out, now=utcnow())
    except (LookupError, FileExistsError) as exc:
        sys.stderr.write(f"civicwatch evidence export: {exc}\n")
        return EXIT_USAGE
    except SQLAlchemyError as exc:
        sys.stderr.write(
            f"civicwatch evidence export: cannot read the database ({type(exc).__name__})\n"
        )
        return EXIT_USAGE
    sys.stdout.write(f"case {args.case_id} exported to {out}\n")
    return EXIT_VERIFIED
