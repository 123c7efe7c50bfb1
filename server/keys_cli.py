"""``civicwatch keys register|list|mosquitto``: the server's registry of edge keys.

:func:`add_commands` adds these actions to the ``keys`` group of the ``civicwatch`` CLI
(the edge contributes ``keys create``, which makes the key pair). They work on the
server's database directly (an admin path: run them where the server's settings are):
``register`` adds an edge's public key so the server verifies the edge's chain records,
``list`` shows the registry, ``mosquitto`` writes the broker's accounts for it.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from server.cli import EXIT_OK, EXIT_USAGE, ConfigurationError, server_database
from server.mosquitto_auth import DEFAULT_SENSOR_FEED_USER

logger = logging.getLogger(__name__)


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``register``, ``mosquitto`` and ``list`` to the ``keys`` group's actions."""
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
    _config_option(register)
    register.set_defaults(func=run_register)

    broker = commands.add_parser(
        "mosquitto",
        help="write a closed Mosquitto configuration, password and ACL files",
        description=(
            "For every registered edge an MQTT account that may publish only under "
            "civicwatch/v1/edges/EDGE_ID/# and read only its resend topic, and one for its "
            "sensor subscriber (EDGE_ID.sensors) that may only read sensor readings; the "
            "server's ingest account that may read edge and sensor topics and publish only "
            "resend requests; the sensor feed's account that may only publish sensor "
            "readings. Writes DIR/passwd and DIR/acl (mode 0640, group --broker-group, "
            "which Mosquitto reads them as), DIR/credentials/USER.env (mode 0600; "
            "existing credentials are kept) and DIR/civicwatch.conf: no anonymous "
            "clients, client ids bound to accounts (use_username_as_clientid), the "
            "contract's packet size limit. Copy it to /etc/mosquitto/conf.d/."
        ),
    )
    broker.add_argument(
        "--sensor-sites",
        action="append",
        default=[],
        type=_sensor_sites,
        metavar="EDGE_ID=SITE[,SITE...]",
        help="the sites EDGE_ID.sensors may read (repeatable; default: every site); "
        "'EDGE_ID=' gives the edge no sensors account",
    )
    broker.add_argument(
        "--sensor-feed-user",
        default=DEFAULT_SENSOR_FEED_USER,
        help=f"MQTT user name of the sensors' gateway, which may only publish sensor "
        f"readings (default {DEFAULT_SENSOR_FEED_USER}; 'none': no such account)",
    )
    broker.add_argument("--out", type=Path, required=True, metavar="DIR", help="where to write")
    broker.add_argument(
        "--server-user",
        default="civicwatch-server",
        help="MQTT user name of the server's ingest (default civicwatch-server)",
    )
    broker.add_argument(
        "--server-replicas",
        type=int,
        default=1,
        metavar="N",
        help="servers sharing the ingest (MQTT 5 shared subscription); each gets its own "
        "account with the server's rights: SERVER_USER, SERVER_USER-2, ... (default 1)",
    )
    broker.add_argument(
        "--broker-group",
        default="mosquitto",
        help="group Mosquitto runs as, given read access to passwd and acl (default "
        "mosquitto; 'none': owner only)",
    )
    _config_option(broker)
    broker.set_defaults(func=run_mosquitto)

    listing = commands.add_parser("list", help="show the registered edge keys")
    _config_option(listing)
    listing.set_defaults(func=run_list)


def _sensor_sites(value: str) -> tuple[str, tuple[str, ...]]:
    """``EDGE_ID=SITE[,SITE...]`` read as (edge id, sites); ``EDGE_ID=``: no sites."""
    from contracts.ids import is_identifier

    edge_id, equals, sites_text = value.partition("=")
    sites = tuple(s.strip() for s in sites_text.split(",") if s.strip())
    bad = [s for s in (edge_id, *sites) if not is_identifier(s)]
    if not equals or bad:
        raise argparse.ArgumentTypeError(
            f"expected EDGE_ID=SITE[,SITE...] of identifiers, got {value[:120]!r}"
        )
    return edge_id, sites


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, metavar="FILE", help="server settings YAML")


def _fail(action: str, message: object) -> int:
    sys.stderr.write(f"civicwatch keys {action}: {message}\n")
    return EXIT_USAGE


def run_register(args: argparse.Namespace) -> int:
    """Run ``keys register``; returns the exit status."""
    from contracts import topics
    from server.chain_store import KeyRegistrationError, register_key
    from server.core.db import utcnow

    try:
        topics.edge_root(args.edge_id)
        text = args.public_key.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return _fail("register", exc)
    try:
        with server_database(args.config) as factory, factory() as session, session.begin():
            row, verified = register_key(
                session, edge_id=args.edge_id, public_key_text=text, now=utcnow()
            )
            key_id = row.key_id
    except ConfigurationError as exc:
        return _fail("register", exc)
    except KeyRegistrationError as exc:
        return _fail("register", f"{args.public_key}: {exc}")
    sys.stdout.write(
        f"edge {args.edge_id}: key {key_id} registered"
        + (f"; {verified} waiting record(s) verified" if verified else "")
        + "\n"
    )
    return EXIT_OK


def run_list(args: argparse.Namespace) -> int:
    """Run ``keys list``: one tab-separated line per registered key."""
    from server.chain_store import list_keys

    try:
        with server_database(args.config) as factory, factory() as session:
            lines = [
                f"{row.edge_id}\t{row.key_id}\t{row.public_key}\t{row.registered_at.isoformat()}"
                for row in list_keys(session)
            ]
    except ConfigurationError as exc:
        return _fail("list", exc)
    sys.stdout.write("edge_id\tkey_id\tpublic_key (base64)\tregistered_at\n")
    sys.stdout.write("".join(f"{line}\n" for line in lines))
    return EXIT_OK


def run_mosquitto(args: argparse.Namespace) -> int:
    """Run ``keys mosquitto``: broker accounts for every registered edge and the server."""
    from server.chain_store import list_keys
    from server.mosquitto_auth import server_usernames, write_broker_auth

    sensor_sites: dict[str, tuple[str, ...]] = {}
    for edge_id, sites in args.sensor_sites:
        sensor_sites[edge_id] = (*sensor_sites.get(edge_id, ()), *sites)
    feed = None if args.sensor_feed_user == "none" else args.sensor_feed_user
    try:
        with server_database(args.config) as factory, factory() as session:
            edge_ids = sorted({row.edge_id for row in list_keys(session)})
        accounts = write_broker_auth(
            args.out,
            edge_ids=edge_ids,
            server_username=args.server_user,
            broker_group=None if args.broker_group == "none" else args.broker_group,
            sensor_sites=sensor_sites,
            sensor_feed_username=feed,
            server_replicas=args.server_replicas,
        )
    except (ConfigurationError, ValueError) as exc:
        return _fail("mosquitto", exc)
    roles = [a.role for a in accounts]
    servers = ", ".join(server_usernames(args.server_user, args.server_replicas))
    sys.stdout.write(
        f"{roles.count('edge')} edge account(s) and server account(s) {servers}, "
        f"{roles.count('sensors')} sensor subscriber account(s) (EDGE_ID.sensors)"
        + (f", sensor feed account {feed}" if feed else "")
        + f" in {args.out}; credentials in {args.out / 'credentials'} (a sensors "
        "account's file holds CIVICWATCH_SENSORS_MQTT_USERNAME / _PASSWORD for the edge's "
        f"sensors block); closed broker configuration in {args.out / 'civicwatch.conf'} "
        "(copy it to /etc/mosquitto/conf.d/)\n"
    )
    return EXIT_OK
