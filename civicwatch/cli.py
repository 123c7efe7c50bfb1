"""The ``civicwatch`` command line.

Every subcommand takes a config file; ``civicwatch <command> --help`` explains each option.
Subcommands are contributed by the packages that own them (``zones``, ``server``,
``training``, ``edge``) and imported lazily, so an edge install needs no server or torch.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

logger = logging.getLogger(__name__)

# (module, human name) of every package that contributes subcommands via add_parser().
_CONTRIBUTORS = (
    ("civicwatch.demo", "demo"),
    ("edge.cli", "edge"),
    ("server.cli", "server"),
    ("zones.cli", "zones"),
    ("training.cli", "training"),
    ("edge.keys_cli", "keys"),
    ("server.evidence_cli", "evidence"),
    ("server.users_cli", "users"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="civicwatch",
        description=(
            "civicwatch: camera video to reviewed, evidence-grade city-management cases. "
            "Run 'civicwatch demo' for the whole path on one machine."
        ),
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log verbosity (default INFO)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name, human in _CONTRIBUTORS:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            # e.g. an edge-only install has no fastapi: the server command is absent.
            logger.debug("%s commands unavailable: %s", human, exc)
            continue
        module.add_parser(subparsers)
    return parser


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
