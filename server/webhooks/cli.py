"""``civicwatch webhooks``: add, list and remove webhook subscriptions from the command line.

The lead's ``civicwatch`` CLI calls :func:`add_parser` to register the command group. Works on
the server's database directly (run it where the server's settings are), as the admin API
does: ``add`` prints the new subscription's secret once; ``list`` never shows secrets.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

KINDS = ("created", "confirmed", "dispatched", "overdue", "closed", "camera_alarm")


def _kinds(text: str) -> list[str]:
    kinds = [kind.strip() for kind in text.split(",") if kind.strip()]
    unknown = sorted(set(kinds) - set(KINDS))
    if not kinds or unknown:
        raise argparse.ArgumentTypeError(
            f"kinds must be a comma-separated list of {', '.join(KINDS)}"
            + (f" (unknown: {', '.join(unknown)})" if unknown else "")
        )
    return kinds


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``webhooks add``, ``list`` and ``remove``."""
    parser = subparsers.add_parser(
        "webhooks",
        help="signed webhooks to the city's case system (subscriptions)",
        description=(
            "Receivers of signed webhooks (HMAC-SHA256 over timestamp.body, see "
            "docs/handoff.md) on created, confirmed, dispatched, overdue, closed and "
            "camera_alarm. The delivery log, dead letters and retries are in the admin API "
            "and the /webhooks page."
        ),
    )
    commands = parser.add_subparsers(dest="webhooks_command", metavar="ACTION", required=True)
    add = commands.add_parser("add", help="add a receiver; prints its secret once")
    add.add_argument("--url", required=True, help="http(s) URL the server POSTs to")
    add.add_argument("--name", help="what people call the receiver (default: the URL's host)")
    add.add_argument(
        "--kinds",
        type=_kinds,
        default=list(KINDS),
        metavar="KIND,...",
        help=f"event kinds to send (default all: {','.join(KINDS)})",
    )
    add.add_argument("--unit", metavar="UNIT_ID", help="only cases of this unit's subtree")
    add.add_argument("--config", type=Path, metavar="FILE", help="server settings YAML")
    add.set_defaults(func=run_add)
    listing = commands.add_parser("list", help="show the receivers (never their secrets)")
    listing.add_argument("--config", type=Path, metavar="FILE", help="server settings YAML")
    listing.set_defaults(func=run_list)
    remove = commands.add_parser("remove", help="remove a receiver and its delivery log")
    remove.add_argument("id", type=int, metavar="ID", help="the subscription id (see list)")
    remove.add_argument("--config", type=Path, metavar="FILE", help="server settings YAML")
    remove.set_defaults(func=run_remove)


def run_add(args: argparse.Namespace) -> int:
    """Run ``webhooks add``; prints the id and the secret."""
    from urllib.parse import urlsplit

    from server.cli import ConfigurationError, server_database
    from server.core.db import utcnow
    from server.webhooks.subscriptions import SubscriptionError, create_subscription
    from server.webhooks.tables import WebhookEventKind

    try:
        with server_database(args.config) as factory, factory() as session, session.begin():
            row = create_subscription(
                session,
                name=args.name or (urlsplit(args.url).hostname or args.url)[:128],
                url=args.url,
                kinds=[WebhookEventKind(kind) for kind in args.kinds],
                unit_id=args.unit,
                enabled=True,
                created_by="cli",
                now=utcnow(),
            )
            sys.stdout.write(
                f"webhook subscription {row.id} added ({', '.join(row.kinds)})\n"
                f"secret (shown once; the receiver checks signatures with it): {row.secret}\n"
            )
    except (ConfigurationError, SubscriptionError) as exc:
        sys.stderr.write(f"civicwatch webhooks add: {exc}\n")
        return 2
    return 0


def run_list(args: argparse.Namespace) -> int:
    """Run ``webhooks list``."""
    from server.cli import ConfigurationError, server_database
    from server.webhooks.subscriptions import list_subscriptions

    try:
        with server_database(args.config) as factory, factory() as session:
            sys.stdout.write("id\tname\turl\tkinds\tunit\tenabled\n")
            for row in list_subscriptions(session):
                sys.stdout.write(
                    f"{row.id}\t{row.name}\t{row.url}\t{','.join(row.kinds)}\t"
                    f"{row.unit_id or '-'}\t{'yes' if row.enabled else 'no'}\n"
                )
    except ConfigurationError as exc:
        sys.stderr.write(f"civicwatch webhooks list: {exc}\n")
        return 2
    return 0


def run_remove(args: argparse.Namespace) -> int:
    """Run ``webhooks remove``."""
    from server.cli import ConfigurationError, server_database
    from server.webhooks.tables import WebhookSubscription

    try:
        with server_database(args.config) as factory, factory() as session, session.begin():
            row = session.get(WebhookSubscription, args.id)
            if row is None:
                sys.stderr.write(f"civicwatch webhooks remove: no subscription {args.id}\n")
                return 2
            session.delete(row)
            sys.stdout.write(f"webhook subscription {args.id} removed\n")
    except ConfigurationError as exc:
        sys.stderr.write(f"civicwatch webhooks remove: {exc}\n")
        return 2
    return 0
