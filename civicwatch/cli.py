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
from types import ModuleType

logger = logging.getLogger(__name__)

# (module, human name) of every package that contributes subcommands via add_parser().
_CONTRIBUTORS = (
    ("civicwatch.demo", "demo"),
    ("edge.cli", "edge"),
    ("server.cli", "server"),
    ("zones.cli", "zones"),
    ("training.cli", "training"),
    ("server.evidence_cli", "evidence"),
    ("server.users_cli", "users"),
    ("server.org.cli", "units"),
    ("server.webhooks.cli", "webhooks"),
    ("server.dataset_cli", "dataset"),
)
# Modules that add actions to the ``keys`` group via add_commands(): the edge makes its key
# pair (create), the server registers it (register, list, mosquitto). Either may be absent.
_KEYS_CONTRIBUTORS = ("edge.keys_cli", "server.keys_cli")
# Modules that add actions to the ``models`` group via add_commands(): training judges a
# candidate (gate); the server serves, assigns and rolls back (register, assign, rollback, list).
_MODELS_CONTRIBUTORS = ("training.gate.cli", "server.models_cli")


def _contributor(module_name: str, human: str) -> ModuleType | None:
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        # e.g. an edge-only install has no fastapi: the server command is absent.
        logger.debug("%s commands unavailable: %s", human, exc)
        return None


def _add_keys_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "keys",
        help="create an edge's chain signing key; register public keys with the server",
        description=(
            "Each edge signs its evidence chain with its own Ed25519 key. 'create' writes "
            "EDGE_ID.key (private, mode 0600: point the edge config's chain.key_file at it) "
            "and EDGE_ID.pub; 'register' adds the public key to the server's edge registry "
            "so the server verifies the edge's records; 'list' shows the registry; "
            "'mosquitto' writes the broker accounts of the registered edges."
        ),
    )
    commands = parser.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    for module_name in _KEYS_CONTRIBUTORS:
        module = _contributor(module_name, "keys")
        if module is not None:
            module.add_commands(commands)


def _add_models_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "models",
        help="judge a candidate model (gate); register, assign and roll back models on edges",
        description=(
            "The model life after training: 'gate' runs a candidate and the current model on "
            "the frozen reviewed-case test split, the held-out rendered scenes and the "
            "real-image table, and passes the candidate only when it makes fewer false cases "
            "and loses no more than 1 point of recall anywhere; 'register' lets the server "
            "serve a model file, 'assign' and 'rollback' send edges a model (retained on their "
            "model topic; they swap it in without a restart), 'list' shows what runs where."
        ),
    )
    commands = parser.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    for module_name in _MODELS_CONTRIBUTORS:
        module = _contributor(module_name, "models")
        if module is not None:
            module.add_commands(commands)


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
        module = _contributor(module_name, human)
        if module is not None:
            module.add_parser(subparsers)
    _add_keys_parser(subparsers)
    _add_models_parser(subparsers)
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
