"""Server settings: pydantic-settings from ``CIVICWATCH_*`` environment variables and a YAML file.

Precedence, highest first: environment, config file, defaults. Secrets (the MQTT
username and password) are read from the environment only; a config file that names
them is refused.

Example:
    >>> settings = load_settings(None)  # doctest: +SKIP
    >>> settings.database_url
    'sqlite:///var/server/civicwatch.db'
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

logger = logging.getLogger(__name__)

ENV_PREFIX = "CIVICWATCH_"
ENV_ONLY_FIELDS = frozenset({"mqtt_username", "mqtt_password"})
"""Fields that may only come from the environment, never from a config file."""


class SettingsError(ValueError):
    """A configuration file or environment variable is unusable; the message says why."""


class Settings(BaseSettings):
    """Everything the server needs to run, validated at start."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="forbid",
        frozen=True,
        env_file=None,
    )

    database_url: str = Field(
        default="sqlite:///var/server/civicwatch.db",
        min_length=1,
        max_length=1024,
        description=(
            "SQLAlchemy URL of the case database: sqlite:///PATH (relative to the working "
            "directory) or postgresql+psycopg://USER@HOST:PORT/DB."
        ),
    )
    evidence_dir: Path = Field(
        default=Path("var/server/evidence"),
        description="Directory where evidence bytes are stored by content hash.",
    )
    mqtt_enabled: bool = Field(
        default=True,
        description="Run the MQTT ingest; off serves the API and pages only.",
    )
    mqtt_host: str = Field(
        default="127.0.0.1", min_length=1, max_length=255, description="MQTT broker host."
    )
    mqtt_port: int = Field(default=1883, ge=1, le=65535, description="MQTT broker TCP port.")
    mqtt_protocol: Literal["5", "3.1.1"] = Field(
        default="5",
        description=(
            "MQTT protocol version; 3.1.1 only for brokers without v5 (evidence content "
            "types are then recognised from the bytes)."
        ),
    )
    mqtt_username: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="MQTT user name (environment CIVICWATCH_MQTT_USERNAME only).",
    )
    mqtt_password: SecretStr | None = Field(
        default=None,
        description="MQTT password (environment CIVICWATCH_MQTT_PASSWORD only).",
    )
    mqtt_client_id: str = Field(
        default="civicwatch-server",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        description="MQTT client id of the ingest; unique per server instance.",
    )
    mqtt_session_expiry_s: int = Field(
        default=7 * 24 * 3600,
        ge=0,
        le=2**32 - 1,
        description=(
            "How long the broker keeps the ingest's session (its subscriptions and the "
            "messages that arrive meanwhile) while the server is away, in seconds; it must "
            "exceed the longest server outage. 0 ends the session with the connection "
            "(messages published while the server is down are then lost)."
        ),
    )
    dead_letter_dir: Path = Field(
        default=Path("var/server/dead-letter"),
        description=(
            "Where a message that keeps failing for an unexpected reason (not a rejection, "
            "not the database being away) is copied before it is acknowledged."
        ),
    )
    mqtt_keepalive_s: int = Field(
        default=30, ge=5, le=3600, description="MQTT keep-alive interval in seconds."
    )
    mqtt_reconnect_max_s: int = Field(
        default=30,
        ge=1,
        le=600,
        description="Longest wait between MQTT reconnect attempts (backoff from 1 s).",
    )
    mqtt_tls_ca_file: Path | None = Field(
        default=None,
        description="CA bundle of the broker's certificate; setting it turns MQTT over TLS on.",
    )
    mqtt_tls_cert_file: Path | None = Field(
        default=None, description="Client certificate for mutual TLS (with mqtt_tls_key_file)."
    )
    mqtt_tls_key_file: Path | None = Field(
        default=None, description="Client private key for mutual TLS."
    )
    auth_enabled: bool = Field(
        default=False,
        description=(
            "Require a login (roles operator, reviewer, admin) for the API, the evidence "
            "and the review page. Off, everything is open and the server says so at start: "
            "for a demo on loopback only."
        ),
    )
    auth_token_ttl_s: int = Field(
        default=12 * 3600,
        ge=60,
        le=30 * 24 * 3600,
        description="How long a login (bearer token / session cookie) stays valid, seconds.",
    )
    auth_cookie_secure: bool = Field(
        default=False,
        description="Send the session cookie over HTTPS only (set true behind TLS).",
    )
    http_host: str = Field(
        default="127.0.0.1",
        min_length=1,
        max_length=255,
        description="Address the HTTP server binds to.",
    )
    http_port: int = Field(default=8000, ge=1, le=65535, description="HTTP server TCP port.")
    max_evidence_bytes: int = Field(
        default=20 * 1024 * 1024,
        ge=1024,
        le=256 * 1024 * 1024,
        description="Largest evidence payload accepted over MQTT, in bytes.",
    )
    max_event_bytes: int = Field(
        default=256 * 1024,
        ge=1024,
        le=16 * 1024 * 1024,
        description="Largest event JSON payload accepted over MQTT, in bytes.",
    )


def _env_names() -> set[str]:
    """Settings fields set in the environment (names compared case-insensitively)."""
    present = {key.upper() for key in os.environ}
    return {name for name in Settings.model_fields if f"{ENV_PREFIX}{name}".upper() in present}


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read config file ({exc.strerror})") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path}: not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: top level must be a mapping of setting names to values")
    unknown = sorted(str(key) for key in data if key not in Settings.model_fields)
    if unknown:
        known = ", ".join(sorted(Settings.model_fields))
        raise SettingsError(f"{path}: unknown setting(s) {', '.join(unknown)}; known: {known}")
    secrets = sorted(str(key) for key in data if key in ENV_ONLY_FIELDS)
    if secrets:
        names = ", ".join(f"{ENV_PREFIX}{name.upper()}" for name in secrets)
        raise SettingsError(
            f"{path}: {', '.join(secrets)} may only come from the environment ({names})"
        )
    return {str(key): value for key, value in data.items()}


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(item) for item in error["loc"]) or "settings"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from defaults, an optional YAML file, the environment and overrides.

    Args:
        config_file: YAML mapping of setting names to values, or ``None``.
        **overrides: Values that win over everything (used by the CLI for ``--host``).

    Returns:
        Validated settings.

    Raises:
        SettingsError: The file is unreadable, not YAML, names an unknown or env-only
            setting, or a value is out of bounds; the message names the file and field.
    """
    file_values = _read_config_file(config_file) if config_file is not None else {}
    from_env = _env_names()
    init_values = {k: v for k, v in file_values.items() if k not in from_env}
    init_values.update(overrides)
    try:
        return Settings(**init_values)
    except ValidationError as exc:
        source = str(config_file) if config_file is not None else "settings"
        raise SettingsError(f"{source}: {_describe(exc)}") from exc
