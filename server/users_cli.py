"""``civicwatch users``: manage the accounts that log in to the API and the review page.

The lead's ``civicwatch`` CLI calls :func:`add_parser` to register the command group.
Works on the server's database directly (run it where the server's settings are). The
password is read from the environment variable ``CIVICWATCH_NEW_PASSWORD`` when set
(for scripts), else asked for twice on the terminal; it is never an argument, so it
does not end up in shell history or process lists.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

PASSWORD_ENV = "CIVICWATCH_NEW_PASSWORD"
ROLES = ("operator", "reviewer", "dispatcher", "team", "admin", "edge")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``users add``, ``passwd``, ``disable``, ``enable`` and ``list``."""
    parser = subparsers.add_parser(
        "users",
        help="manage logins (roles operator, reviewer, dispatcher, team, admin, edge)",
        description=(
            "Accounts for the HTTP API and the review page (used when the server's "
            "auth_enabled is true). operator: reads cases and evidence; reviewer: also "
            "gives verdicts; dispatcher: dispatches, verifies and closes cases; team: a field "
            "team that reports disposals; admin: everything; edge: a device account without "
            "access to cases. An account placed in a unit (--unit) acts on that unit's subtree "
            "only; without one it is city-wide. "
            f"Passwords come from ${PASSWORD_ENV} or a terminal prompt, must have "
            "10 characters, 5 different ones, not contain the user name nor be a common "
            "password, and are stored as argon2id hashes. A disabled account cannot log in "
            "and its sessions end at once."
        ),
    )
    commands = parser.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    add = commands.add_parser("add", help="create an account")
    add.add_argument("--username", required=True, help="letters, digits and _.@-; at most 64")
    add.add_argument("--role", required=True, choices=ROLES, help="what the account may do")
    add.add_argument(
        "--unit",
        metavar="UNIT_ID",
        help="the account's unit (configs/units.yaml); a team account names its team",
    )
    add.add_argument("--config", type=Path, metavar="FILE", help="server settings YAML")
    add.set_defaults(func=run_add)
    passwd = commands.add_parser("passwd", help="set a new password (ends its sessions)")
    passwd.add_argument("--username", required=True, help="the account whose password changes")
    passwd.add_argument("--config", type=Path, metavar="FILE", help="server settings YAML")
    passwd.set_defaults(func=run_passwd)
    for action, text in (
        ("disable", "refuse the account's logins and end its sessions"),
        ("enable", "let a disabled (or locked) account log in again"),
    ):
        toggle = commands.add_parser(action, help=text)
        toggle.add_argument("--username", required=True, help="the account")
        toggle.add_argument("--config", type=Path, metavar="FILE", help="server settings YAML")
        toggle.set_defaults(func=run_disable if action == "disable" else run_enable)
    listing = commands.add_parser("list", help="show the accounts and their roles")
    listing.add_argument("--config", type=Path, metavar="FILE", help="server settings YAML")
    listing.set_defaults(func=run_list)


def _password() -> str | None:
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env:
        return from_env
    if not sys.stdin.isatty():
        sys.stderr.write(f"set {PASSWORD_ENV} or run on a terminal to be asked\n")
        return None
    first = getpass.getpass("new password: ")
    if first != getpass.getpass("again: "):
        sys.stderr.write("the passwords differ\n")
        return None
    return first


def _run(args: argparse.Namespace, action: str) -> int:
    from server import auth
    from server.cli import ConfigurationError, server_database

    try:
        with server_database(args.config) as factory:
            password = _password() if action in ("add", "passwd") else None
            if action in ("add", "passwd") and password is None:
                return 2
            with factory() as session, session.begin():
                _act(session, args, action, password)
    except (ConfigurationError, auth.UserError) as exc:
        sys.stderr.write(f"civicwatch users {action}: {exc}\n")
        return 2
    return 0


def _act(session: Session, args: argparse.Namespace, action: str, password: str | None) -> None:
    """Carry out ``users <action>`` in the caller's transaction and report it."""
    from server import auth
    from server.core.db import utcnow
    from server.tables import UserRole

    if action == "add":
        assert password is not None
        auth.create_user(
            session,
            username=args.username,
            password=password,
            role=UserRole(args.role),
            now=utcnow(),
            unit_id=args.unit,
        )
        where = f" in unit {args.unit}" if args.unit else ""
        sys.stdout.write(f"user {args.username} ({args.role}){where} created\n")
    elif action == "passwd":
        assert password is not None
        auth.set_password(session, username=args.username, password=password)
        sys.stdout.write(f"password of {args.username} changed; sessions ended\n")
    elif action in ("disable", "enable"):
        disabled = action == "disable"
        auth.set_disabled(session, username=args.username, disabled=disabled, now=utcnow())
        sys.stdout.write(
            f"user {args.username} {'disabled; sessions ended' if disabled else 'enabled'}\n"
        )
    else:
        sys.stdout.write("username\trole\tunit\tcreated_at\tdisabled\tlocked_until\n")
        for user in auth.list_users(session):
            locked = user.locked_until.isoformat() if user.locked_until else "-"
            sys.stdout.write(
                f"{user.username}\t{user.role.value}\t{user.unit_id or '-'}\t"
                f"{user.created_at.isoformat()}\t"
                f"{'yes' if user.disabled_at else 'no'}\t{locked}\n"
            )


def run_add(args: argparse.Namespace) -> int:
    return _run(args, "add")


def run_passwd(args: argparse.Namespace) -> int:
    return _run(args, "passwd")


def run_list(args: argparse.Namespace) -> int:
    return _run(args, "list")


def run_disable(args: argparse.Namespace) -> int:
    return _run(args, "disable")


def run_enable(args: argparse.Namespace) -> int:
    return _run(args, "enable")
