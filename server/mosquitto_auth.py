"""Mosquitto password and ACL files from the server's edge registry.

Every registered edge gets an MQTT account named after its edge id that may publish
only under its own topics (``civicwatch/v1/edges/<edge_id>/#``: events, evidence, chain
records, availability and its last will) and read nothing; the server's ingest account
may read every edge topic and publish nothing. Anonymous access is off.

Passwords are random (32 bytes, URL-safe) and live in ``<out>/credentials/<user>.env``
(mode 0600, ``CIVICWATCH_MQTT_USERNAME`` / ``CIVICWATCH_MQTT_PASSWORD``: what the edge
and the server read from their environment); an existing credentials file is reused,
so regenerating the broker files after registering a new edge changes no one else's
password. The password file holds Mosquitto's ``$7$`` hashes (PBKDF2-HMAC-SHA512, 101
iterations, 12-byte salt, as ``mosquitto_passwd`` writes them).

Point Mosquitto at them with ``password_file <out>/passwd``, ``acl_file <out>/acl`` and
``allow_anonymous false``; see :func:`broker_config_lines`.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from contracts import topics

logger = logging.getLogger(__name__)

PBKDF2_ITERATIONS: Final[int] = 101
SALT_BYTES: Final[int] = 12
_ENV_LINE = re.compile(r"^(CIVICWATCH_MQTT_USERNAME|CIVICWATCH_MQTT_PASSWORD)=(.*)$")


def mosquitto_hash(password: str, *, salt: bytes | None = None) -> str:
    """A Mosquitto 2 ``$7$`` password hash (PBKDF2-HMAC-SHA512)."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, PBKDF2_ITERATIONS)
    return (
        f"$7${PBKDF2_ITERATIONS}${base64.b64encode(salt).decode()}"
        f"${base64.b64encode(digest).decode()}"
    )


@dataclass(frozen=True, slots=True)
class MqttAccount:
    """One broker account: its name, password and the topics it may use."""

    username: str
    password: str
    write: tuple[str, ...]
    read: tuple[str, ...]


def acl_text(accounts: Iterable[MqttAccount]) -> str:
    """Mosquitto ACL lines for ``accounts`` (everything not granted is denied)."""
    lines = ["# civicwatch broker ACL (generated; edit the edge registry, not this file)"]
    for account in accounts:
        lines.append(f"\nuser {account.username}")
        lines.extend(f"topic write {pattern}" for pattern in account.write)
        lines.extend(f"topic read {pattern}" for pattern in account.read)
    return "\n".join(lines) + "\n"


def passwd_text(accounts: Iterable[MqttAccount]) -> str:
    return "".join(f"{a.username}:{mosquitto_hash(a.password)}\n" for a in accounts)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    path.chmod(0o600)


def _credentials(directory: Path, username: str) -> str:
    """The account's password from its credentials file, created when absent."""
    path = directory / f"{username}.env"
    if path.is_file():
        values: dict[str, str] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            match = _ENV_LINE.match(line)
            if match:
                values[match.group(1)] = match.group(2)
        password = values.get("CIVICWATCH_MQTT_PASSWORD")
        if values.get("CIVICWATCH_MQTT_USERNAME") == username and password:
            return password
        logger.warning("%s is not a credentials file of %s; writing a new one", path, username)
    password = secrets.token_urlsafe(32)
    _write_private(
        path, f"CIVICWATCH_MQTT_USERNAME={username}\nCIVICWATCH_MQTT_PASSWORD={password}\n"
    )
    return password


def write_broker_auth(
    out: Path, *, edge_ids: Iterable[str], server_username: str
) -> list[MqttAccount]:
    """Write ``passwd``, ``acl`` and ``credentials/*.env`` for the edges and the server.

    Args:
        out: Directory to write into (created, mode 0700).
        edge_ids: The registered edges.
        server_username: The ingest's account (its ``CIVICWATCH_MQTT_USERNAME``).

    Returns:
        The accounts written, server first.

    Raises:
        ValueError: An edge id or the server user name is not a valid topic segment.
    """
    topics.edge_root(server_username)  # same character rules as an edge id
    out.mkdir(parents=True, exist_ok=True)
    out.chmod(0o700)
    credentials = out / "credentials"
    credentials.mkdir(exist_ok=True)
    credentials.chmod(0o700)
    accounts = [
        MqttAccount(
            username=server_username,
            password=_credentials(credentials, server_username),
            write=(),
            read=(f"{topics.PREFIX}/edges/#", f"{topics.PREFIX}/sensors/#"),
        )
    ]
    for edge_id in sorted(set(edge_ids)):
        if edge_id == server_username:
            raise ValueError(f"edge id {edge_id!r} is the server's MQTT user name")
        accounts.append(
            MqttAccount(
                username=edge_id,
                password=_credentials(credentials, edge_id),
                write=(f"{topics.edge_root(edge_id)}/#",),
                read=(),
            )
        )
    _write_private(out / "passwd", passwd_text(accounts))
    (out / "acl").write_text(acl_text(accounts), encoding="utf-8")
    logger.info("wrote broker accounts for %d edge(s) to %s", len(accounts) - 1, out)
    return accounts


def broker_config_lines(out: Path) -> list[str]:
    """The ``mosquitto.conf`` lines that use the generated files."""
    return [
        "allow_anonymous false",
        f"password_file {(out / 'passwd').resolve()}",
        f"acl_file {(out / 'acl').resolve()}",
    ]
