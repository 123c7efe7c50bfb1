"""``civicwatch keys``: provision an edge's chain signing key and register it with the server.

The lead's ``civicwatch`` CLI calls :func:`add_parser` to register the command group.
``create`` needs only the edge install; ``register`` and ``list`` write / read the
server's edge registry directly in its database (an admin path: run them where the
server's settings are), importing the server package lazily.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

logger = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``keys create``, ``keys register`` and ``keys list``."""
    parser = subparsers.add_parser(
        "keys",
        help="create an edge's chain signing key; register public keys with the server",
        description=(
            "Each edge signs its evidence chain with its own Ed25519 key. 'create' writes "
            "EDGE_ID.key (private, mode 0600: point the edge config's chain.key_file at it) "
            "and EDGE_ID.pub; 'register' adds the public key to the server's edge registry "
            "so the server verifies the edge's records; 'list' shows the registry."
        ),
    )
    commands = parser.add_subparsers(dest="keys_command", metavar="ACTION", required=True)

    create = commands.add_parser(
        "create",
        help="create a key pair for an edge",
        description="Write DIR/EDGE_ID.key (PKCS#8 PEM, 0600) and DIR/EDGE_ID.pub (PEM).",
    )
    create.add_argument("--edge-id", required=True, help="the edge's id (as in its config)")
    create.add_argument("--out", type=Path, required=True, metavar="DIR", help="where to write")
    create.add_argument("--force", action="store_true", help="overwrite existing key files")
    create.set_defaults(func=run_create)

    register = commands.add_parser(
        "register",
        help="put an edge's public key into the server's registry",
        description=(
            "Add the public key to the registry in the server's database (migrating it to "
            "the current schema first, as the server does at start). Records that arrived "
            "signed by this key before it was registered are verified now."
        ),
    )
    register.add_argument("--edge-id", required=True, help="the edge the key belongs to")
    register.add_argument(
        "--public-key", type=Path, required=True, metavar="FILE", help="EDGE_ID.pub (PEM)"
    )
    register.add_argument("--config", type=Path, metavar="FILE", help="server settings YAML")
    register.set_defaults(func=run_register)

    broker = commands.add_parser(
        "mosquitto",
        help="write Mosquitto password and ACL files from the edge registry",
        description=(
            "For every registered edge an MQTT account that may publish only under "
            "civicwatch/v1/edges/EDGE_ID/#, and the server's ingest account that may only "
            "read edge topics. Writes DIR/passwd, DIR/acl and DIR/credentials/USER.env "
            "(mode 0600; existing credentials are kept). Use them in mosquitto.conf with "
            "allow_anonymous false, password_file DIR/passwd, acl_file DIR/acl."
        ),
    )
    broker.add_argument("--out", type=Path, required=True, metavar="DIR", help="where to write")
    broker.add_argument(
        "--server-user",
        default="civicwatch-server",
        help="MQTT user name of the server's ingest (default civicwatch-server)",
    )
    broker.add_argument("--config", type=Path, metavar="FILE", help="server settings YAML")
    broker.set_defaults(func=run_mosquitto)

    listing = commands.add_parser("list", help="show the registered edge keys")
    listing.add_argument("--config", type=Path, metavar="FILE", help="server settings YAML")
    listing.set_defaults(func=run_list)


def run_create(args: argparse.Namespace) -> int:
    from edge.chain import EdgeKey

    key = EdgeKey.generate()
    try:
        private_path, public_path = key.save(args.out, args.edge_id, overwrite=args.force)
    except (FileExistsError, ValueError) as exc:
        sys.stderr.write(f"civicwatch keys create: {exc}\n")
        return 2
    sys.stdout.write(
        f"edge {args.edge_id}: key {key.key_id}\n  private: {private_path} (keep it on the edge)"
        f"\n  public:  {public_path} (civicwatch keys register --edge-id {args.edge_id} "
        f"--public-key {public_path})\n"
    )
    return 0


def run_register(args: argparse.Namespace) -> int:
    from contracts import topics
    from server.chain_store import KeyRegistrationError, register_key
    from server.core.config import SettingsError, load_settings
    from server.core.db import make_engine, make_session_factory, run_migrations, utcnow

    try:
        topics.edge_root(args.edge_id)
        text = args.public_key.read_text(encoding="ascii")
        settings = load_settings(args.config)
    except (OSError, UnicodeDecodeError, ValueError, SettingsError) as exc:
        sys.stderr.write(f"civicwatch keys register: {exc}\n")
        return 2
    engine = make_engine(settings.database_url)
    try:
        run_migrations(engine)
        with make_session_factory(engine)() as session, session.begin():
            row, verified = register_key(
                session, edge_id=args.edge_id, public_key_text=text, now=utcnow()
            )
            key_id = row.key_id
    except KeyRegistrationError as exc:
        sys.stderr.write(f"civicwatch keys register: {args.public_key}: {exc}\n")
        return 2
    finally:
        engine.dispose()
    sys.stdout.write(
        f"edge {args.edge_id}: key {key_id} registered"
        + (f"; {verified} waiting record(s) verified" if verified else "")
        + "\n"
    )
    return 0


def run_list(args: argparse.Namespace) -> int:
    from server.chain_store import list_keys
    from server.core.config import SettingsError, load_settings
    from server.core.db import make_engine, make_session_factory, run_migrations

    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        sys.stderr.write(f"civicwatch keys list: {exc}\n")
        return 2
    engine = make_engine(settings.database_url)
    try:
        run_migrations(engine)
        with make_session_factory(engine)() as session:
            rows = list_keys(session)
            lines = [
                f"{row.edge_id}\t{row.key_id}\t{row.public_key}\t{row.registered_at.isoformat()}"
                for row in rows
            ]
    finally:
        engine.dispose()
    sys.stdout.write("edge_id\tkey_id\tpublic_key (base64)\tregistered_at\n")
    sys.stdout.write("".join(f"{line}\n" for line in lines))
    return 0


def run_mosquitto(args: argparse.Namespace) -> int:
    from server.chain_store import list_keys
    from server.core.config import SettingsError, load_settings
    from server.core.db import make_engine, make_session_factory, run_migrations
    from server.mosquitto_auth import broker_config_lines, write_broker_auth

    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        sys.stderr.write(f"civicwatch keys mosquitto: {exc}\n")
        return 2
    engine = make_engine(settings.database_url)
    try:
        run_migrations(engine)
        with make_session_factory(engine)() as session:
            edge_ids = sorted({row.edge_id for row in list_keys(session)})
    finally:
        engine.dispose()
    try:
        accounts = write_broker_auth(args.out, edge_ids=edge_ids, server_username=args.server_user)
    except ValueError as exc:
        sys.stderr.write(f"civicwatch keys mosquitto: {exc}\n")
        return 2
    sys.stdout.write(
        f"{len(accounts) - 1} edge account(s) and server account {args.server_user} in "
        f"{args.out}; credentials in {args.out / 'credentials'}. mosquitto.conf:\n"
        + "".join(f"  {line}\n" for line in broker_config_lines(args.out))
    )
    return 0
