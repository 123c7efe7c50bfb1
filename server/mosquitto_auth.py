"""Mosquitto configuration, password and ACL files from the server's edge registry.

Every registered edge gets an MQTT account named after its edge id that may publish
only under its own topics (``civicwatch/v1/edges/<edge_id>/#``: events, evidence, chain
records, availability and its last will, config status, health, snapshots) and read only
its own resend topic and control topics (``civicwatch/v1/control/<edge_id>/#``: config,
snapshot requests, model rollout), and a
second account ``<edge_id>.sensors`` for its sensor subscriber that may only read sensor
readings (``civicwatch/v1/sensors/#``, or only the sites named for it): with client ids
bound to accounts, two clients of one account would take each other's session over on
every connect. The server's ingest account may read every edge and sensor topic and
publish only resend requests and the edges' control messages (retained); the sensor feed's
account (the sensors' gateway) may only publish sensor readings.

The broker configuration (:func:`broker_config_text`, written as ``civicwatch.conf``
beside the accounts, and shipped as ``configs/mosquitto/civicwatch.conf``) is closed:
no anonymous clients, and ``use_username_as_clientid`` binds every client id to its
account, so no login can take over another's session (the server's persistent session
and the messages queued in it). ``message_size_limit`` is the contract's
(:data:`contracts.limits.BROKER_MESSAGE_SIZE_LIMIT`).

Passwords are random (32 bytes, URL-safe) and live in ``<out>/credentials/<user>.env``
(mode 0600, ``CIVICWATCH_MQTT_USERNAME`` / ``CIVICWATCH_MQTT_PASSWORD``: what the edge
and the server read from their environment; ``CIVICWATCH_SENSORS_MQTT_USERNAME`` /
``..._PASSWORD`` in a sensors account's file, what the edge's ``sensors`` block reads by
default); an existing credentials file is reused,
so regenerating the broker files after registering a new edge changes no one else's
password. The password file holds Mosquitto's ``$7$`` hashes (PBKDF2-HMAC-SHA512, 101
iterations, 12-byte salt, as ``mosquitto_passwd`` writes them).

Mosquitto 2 reads the password and ACL files as its own user (``mosquitto``) after
dropping root: they are written mode 0640, group ``broker_group``, in a directory that
group may enter (the credentials stay 0700 / 0600, the owner's alone).
"""

from __future__ import annotations

import base64
import grp
import hashlib
import logging
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final, Literal

from contracts import topics
from contracts.ids import is_identifier
from contracts.limits import BROKER_MESSAGE_SIZE_LIMIT
from contracts.mqtt import SENSORS_PASSWORD_ENV, SENSORS_USERNAME_ENV

logger = logging.getLogger(__name__)

PBKDF2_ITERATIONS: Final[int] = 101
SALT_BYTES: Final[int] = 12
_ENV_LINE = re.compile(r"^([A-Z_]+)=(.*)$")
LOGIN_ENV: Final[tuple[str, str]] = ("CIVICWATCH_MQTT_USERNAME", "CIVICWATCH_MQTT_PASSWORD")
"""The variables of an edge's, the server's and the sensor feed's credentials file."""
SENSORS_LOGIN_ENV: Final[tuple[str, str]] = (SENSORS_USERNAME_ENV, SENSORS_PASSWORD_ENV)
"""The variables of a sensors account's credentials file (the edge's ``sensors`` block)."""
SENSORS_ACCOUNT_SUFFIX: Final[str] = ".sensors"
DEFAULT_SENSOR_FEED_USER: Final[str] = "civicwatch-sensor-feed"
SENSORS_ALL: Final[str] = f"{topics.PREFIX}/sensors/#"

AccountRole = Literal["server", "edge", "sensors", "sensor-feed"]


def sensors_username(edge_id: str) -> str:
    """``<edge_id>.sensors``: the account of an edge's sensor subscriber.

    Raises:
        ValueError: The name would not be an identifier (an edge id over 56 characters).
    """
    topics.edge_root(edge_id)
    username = f"{edge_id}{SENSORS_ACCOUNT_SUFFIX}"
    if not is_identifier(username):
        raise ValueError(
            f"edge id {edge_id!r} is too long for its sensors account {username!r} "
            "(identifiers have at most 64 characters)"
        )
    return username


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
    """One broker account: its name, password, what it is for and the topics it may use."""

    username: str
    password: str = field(repr=False)
    role: AccountRole
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


DEFAULT_BROKER_GROUP: Final[str] = "mosquitto"
"""The group Debian's Mosquitto runs as; it must read ``passwd`` and ``acl``."""

SHIPPED_AUTH_DIR: Final[Path] = Path("/etc/mosquitto/civicwatch")
"""Where ``configs/mosquitto/civicwatch.conf`` expects ``passwd`` and ``acl``."""


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    path.chmod(0o600)


def _credentials(directory: Path, username: str, env: tuple[str, str] = LOGIN_ENV) -> str:
    """The account's password from its credentials file, created when absent.

    ``env`` names the file's two variables (user name, password): what the process that
    uses the account reads from its environment.
    """
    user_var, pass_var = env
    path = directory / f"{username}.env"
    if path.is_file():
        values: dict[str, str] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            match = _ENV_LINE.match(line)
            if match:
                values[match.group(1)] = match.group(2)
        password = values.get(pass_var)
        if values.get(user_var) == username and password:
            return password
        logger.warning("%s is not a credentials file of %s; writing a new one", path, username)
    password = secrets.token_urlsafe(32)
    _write_private(path, f"{user_var}={username}\n{pass_var}={password}\n")
    return password


def _share_with_broker(paths: Iterable[Path], group: str | None) -> None:
    """Give ``group`` (the broker's) read access to ``paths``; owner-only when ``None``."""
    gid: int | None = None
    if group is not None:
        try:
            gid = grp.getgrnam(group).gr_gid
        except KeyError:
            logger.warning(
                "group %r does not exist: the broker files stay readable by their owner only "
                "(run Mosquitto as this user, or pass the broker's group)",
                group,
            )
    for path in paths:
        if gid is None:
            path.chmod(0o700 if path.is_dir() else 0o600)
            continue
        try:
            os.chown(path, -1, gid)
        except PermissionError:
            logger.warning(
                "cannot give %s to group %s (not root?): run 'chgrp %s %s' before starting "
                "Mosquitto, which reads it as its own user",
                path,
                group,
                group,
                path,
            )
        path.chmod(0o750 if path.is_dir() else 0o640)


def _sensor_reads(edge_id: str, sensor_sites: Mapping[str, Iterable[str]]) -> tuple[str, ...]:
    """What the edge's sensors account may read: its named sites, else every site."""
    if edge_id not in sensor_sites:
        return (SENSORS_ALL,)
    return tuple(topics.sensor_site_subscription(s) for s in sorted(set(sensor_sites[edge_id])))


def server_usernames(server_username: str, replicas: int) -> list[str]:
    """The ingest accounts of ``replicas`` servers: ``server_username``, then ``-2``, ``-3``...

    Client ids are bound to accounts, so every replica sharing the ingest (an MQTT 5
    shared subscription, ``ingest.shared_group``) logs in with its own account.
    """
    return [server_username] + [f"{server_username}-{n}" for n in range(2, replicas + 1)]


def _plan_accounts(
    edges: list[str],
    server_username: str,
    sensor_sites: Mapping[str, Iterable[str]],
    sensor_feed_username: str | None,
    server_replicas: int = 1,
) -> list[MqttAccount]:
    """The accounts to write, passwords still empty; refuses bad or clashing names."""
    topics.edge_root(server_username)  # same character rules as an edge id
    if server_replicas < 1:
        raise ValueError(f"server_replicas must be at least 1, got {server_replicas}")
    unknown = sorted(set(sensor_sites) - set(edges))
    if unknown:
        raise ValueError(f"sensor sites given for unregistered edge(s): {', '.join(unknown)}")
    accounts = [
        MqttAccount(
            name,
            "",
            "server",
            (topics.RESEND_PATTERN, topics.CONTROL_PATTERN),
            (f"{topics.PREFIX}/edges/#", SENSORS_ALL),
        )
        for name in server_usernames(server_username, server_replicas)
    ]
    for edge_id in edges:
        if edge_id == server_username:
            raise ValueError(f"edge id {edge_id!r} is the server's MQTT user name")
        own = (f"{topics.edge_root(edge_id)}/#",)
        controls = (topics.resend_topic(edge_id), topics.control_subscription(edge_id))
        accounts.append(MqttAccount(edge_id, "", "edge", own, controls))
        reads = _sensor_reads(edge_id, sensor_sites)
        if reads:
            accounts.append(MqttAccount(sensors_username(edge_id), "", "sensors", (), reads))
    if sensor_feed_username is not None:
        topics.edge_root(sensor_feed_username)
        accounts.append(MqttAccount(sensor_feed_username, "", "sensor-feed", (SENSORS_ALL,), ()))
    taken = [a.username for a in accounts]
    clashes = sorted({name for name in taken if taken.count(name) > 1})
    if clashes:
        raise ValueError(
            f"MQTT user name(s) {', '.join(clashes)} would belong to two accounts (the "
            "server's, an edge's, a sensors account or the sensor feed's)"
        )
    return accounts


def write_broker_auth(
    out: Path,
    *,
    edge_ids: Iterable[str],
    server_username: str,
    broker_group: str | None = DEFAULT_BROKER_GROUP,
    sensor_sites: Mapping[str, Iterable[str]] | None = None,
    sensor_feed_username: str | None = DEFAULT_SENSOR_FEED_USER,
    server_replicas: int = 1,
) -> list[MqttAccount]:
    """Write ``passwd``, ``acl``, ``civicwatch.conf`` and ``credentials/*.env``.

    Args:
        out: Directory to write into (created; mode 0750, group ``broker_group``).
        edge_ids: The registered edges.
        server_username: The ingest's account (its ``CIVICWATCH_MQTT_USERNAME``); with
            ``use_username_as_clientid`` it is also the ingest's client id at the broker.
        broker_group: The group Mosquitto runs as, given read access to ``passwd`` and
            ``acl`` (mode 0640); ``None``: owner only (Mosquitto runs as this user).
        sensor_sites: Edge id -> the sites its sensors account may read; an edge not
            named reads every site, an edge named with no site gets no sensors account.
        sensor_feed_username: The account that publishes sensor readings (and nothing
            else); ``None``: none.
        server_replicas: Servers sharing the ingest; each gets its own account with the
            server's rights (:func:`server_usernames`).

    Returns:
        The accounts written: the server(s), each edge followed by its sensors account,
        then the sensor feed.

    Raises:
        ValueError: An edge id, site id or user name is not a valid topic segment, a
            user name is taken twice, or ``sensor_sites`` names an unknown edge.
    """
    edges = sorted(set(edge_ids))
    planned = _plan_accounts(
        edges, server_username, sensor_sites or {}, sensor_feed_username, server_replicas
    )
    out.mkdir(parents=True, exist_ok=True)
    out.chmod(0o700)
    credentials = out / "credentials"
    credentials.mkdir(exist_ok=True)
    credentials.chmod(0o700)
    accounts = [
        replace(
            account,
            password=_credentials(
                credentials,
                account.username,
                SENSORS_LOGIN_ENV if account.role == "sensors" else LOGIN_ENV,
            ),
        )
        for account in planned
    ]
    _write_private(out / "passwd", passwd_text(accounts))
    _write_private(out / "acl", acl_text(accounts))
    (out / "civicwatch.conf").write_text(broker_config_text(out), encoding="utf-8")
    _share_with_broker([out, out / "passwd", out / "acl"], broker_group)
    logger.info("wrote broker accounts for %d edge(s) to %s", len(edges), out)
    return accounts


def broker_config_lines(out: Path) -> list[str]:
    """The ``mosquitto.conf`` lines that close the broker and use the generated files.

    With ``per_listener_settings false`` (Mosquitto's default) they apply to every
    listener; give them before the listeners (:func:`listener_lines`). ``max_packet_size``
    (the contract's limit plus room for the MQTT header) is the whole packet, announced to
    MQTT 5 clients in the CONNACK.
    """
    return [
        "allow_anonymous false",
        f"password_file {(out / 'passwd').absolute()}",
        f"acl_file {(out / 'acl').absolute()}",
        f"max_packet_size {BROKER_MESSAGE_SIZE_LIMIT}",
    ]


def listener_lines(port: int, host: str | None = None) -> list[str]:
    """A listener that binds every client id to its account (``use_username_as_clientid``).

    That option belongs to a listener in Mosquitto 2 (given before any ``listener`` line it
    opens the default listener on every interface): repeat these lines for each listener.
    """
    return [f"listener {port}{f' {host}' if host else ''}", "use_username_as_clientid true"]


def broker_config_text(out: Path = SHIPPED_AUTH_DIR) -> str:
    """A whole Mosquitto 2 configuration for civicwatch, closed, using the files in ``out``.

    ``configs/mosquitto/civicwatch.conf`` is this text for :data:`SHIPPED_AUTH_DIR`
    (a test keeps them equal); ``civicwatch keys mosquitto --out DIR`` writes it for DIR.
    """
    lines = [
        "# Mosquitto 2.x configuration for a civicwatch deployment (generated by",
        "# 'civicwatch keys mosquitto'; do not edit: regenerate). Copy it to",
        "# /etc/mosquitto/conf.d/civicwatch.conf.",
        "#",
        "# Closed: no anonymous clients; every client id is bound to its account",
        "# (use_username_as_clientid), so no login can take over another's session;",
        "# each edge may publish only under its own topics (see the ACL).",
        "per_listener_settings false",
        *broker_config_lines(out),
        "",
        "# Loopback for a server on the same host. Edges across the network connect with",
        "# TLS only:",
        *listener_lines(1883, "127.0.0.1"),
        "# listener 8883",
        "# use_username_as_clientid true",
        "# cafile /etc/mosquitto/certs/ca.crt",
        "# certfile /etc/mosquitto/certs/server.crt",
        "# keyfile /etc/mosquitto/certs/server.key",
        "",
        "persistence true",
        "persistence_location /var/lib/mosquitto/",
        "autosave_interval 30",
        "",
        "# Mosquitto caps each client's queue at 1000 messages by default and then drops",
        '# ("Outgoing messages are being dropped"): bursts of 2,000-10,000 QoS 1 events to one',
        "# subscriber lost 10-72 % of them. The server subscribes with one client, so the",
        "# queue must hold a whole outage's worth of events and evidence.",
        "max_queued_messages 100000",
        "max_inflight_messages 100",
    ]
    return "\n".join(lines) + "\n"
