"""``civicwatch keys create``: make an edge's chain signing key pair.

:func:`add_commands` adds the action to the ``keys`` group of the ``civicwatch`` CLI.
It needs only the edge install; registering the public key with the server
(``keys register``) is the server's own command (:mod:`server.keys_cli`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_USAGE = 2


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``create`` to the ``keys`` group's actions."""
    create = commands.add_parser(
        "create",
        help="create a key pair for an edge",
        description="Write DIR/EDGE_ID.key (PKCS#8 PEM, 0600) and DIR/EDGE_ID.pub (PEM).",
    )
    create.add_argument("--edge-id", required=True, help="the edge's id (as in its config)")
    create.add_argument("--out", type=Path, required=True, metavar="DIR", help="where to write")
    create.add_argument("--force", action="store_true", help="overwrite existing key files")
    create.set_defaults(func=run_create)


def run_create(args: argparse.Namespace) -> int:
    """Run ``keys create``; returns the exit status."""
    from edge.chain import EdgeKey

    key = EdgeKey.generate()
    try:
        private_path, public_path = key.save(args.out, args.edge_id, overwrite=args.force)
    except (OSError, ValueError) as exc:  # exists already, unwritable, or a bad edge id
        sys.stderr.write(f"civicwatch keys create: {exc}\n")
        return EXIT_USAGE
    sys.stdout.write(
        f"edge {args.edge_id}: key {key.key_id}\n  private: {private_path} (keep it on the edge)"
        f"\n  public:  {public_path} (civicwatch keys register --edge-id {args.edge_id} "
        f"--public-key {public_path})\n"
    )
    return EXIT_OK
