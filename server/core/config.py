"""Server settings: pydantic-settings from ``CIVICWATCH_*`` environment variables and a YAML file.

Precedence, highest first: environment, config file, defaults. The broker connection is
the nested ``mqtt`` block (:class:`contracts.mqtt.MqttSettings`, the shape the edge uses
too), set in the environment field by field as ``CIVICWATCH_MQTT__HOST`` and the like.
Secrets (the MQTT user name and password) come from the environment only
(``CIVICWATCH_MQTT_USERNAME`` / ``CIVICWATCH_MQTT_PASSWORD`` unless ``mqtt.username_env`` /
``mqtt.password_env`` name others); a config file that names them is refused.

Example:
    >>> settings = load_settings(None)  # doctest: +SKIP
    >>> settings.database_url
    'sqlite:///var/server/civicwatch.db'
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.mqtt import MqttSettings
from contracts.yamlconfig import (
    ConfigError,
    Problem,
    YamlDocument,
    describe_error,
    did_you_mean,
    read_yaml,
)

logger = logging.getLogger(__name__)

ENV_PREFIX = "CIVICWATCH_"
ENV_NESTED_DELIMITER = "__"


class SettingsError(ValueError):
    """A configuration file or environment variable is unusable; the message says why."""


class Settings(BaseSettings):
    """Everything the server needs to run, validated at start."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED_DELIMITER,
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
    mqtt: MqttSettings = Field(
        default_factory=MqttSettings,
        description=(
            "The broker connection of the ingest (contracts.mqtt.MqttSettings, the edge's "
            "shape); environment CIVICWATCH_MQTT__<FIELD>, e.g. CIVICWATCH_MQTT__HOST. The "
            "ingest's client id defaults to civicwatch-server and its session expiry to "
            "7 days: it must exceed the longest server outage (0 loses what is published "
            "while the server is down)."
        ),
    )
    dead_letter_dir: Path = Field(
        default=Path("var/server/dead-letter"),
        description=(
            "Where a message that keeps failing for an unexpected reason (not a rejection, "
            "not the database being away) is copied before it is acknowledged."
        ),
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
    ingest_require_chain: bool = Field(
        default=True,
        description=(
            "An event becomes part of a case only when a verified chain record of its own "
            "edge names it; others wait in the quarantine (with the reason) until the record "
            "arrives or they age out. Off only for tests of unsigned edges."
        ),
    )
    quarantine_max_age_s: int = Field(
        default=3 * 24 * 3600,
        ge=60,
        le=365 * 24 * 3600,
        description="How long an event waits in the quarantine for its chain record, seconds.",
    )
    quarantine_max_per_edge: int = Field(
        default=1000,
        ge=1,
        le=1_000_000,
        description="Most events of one edge waiting in the quarantine; more are refused.",
    )
    edge_event_rate_per_s: float = Field(
        default=5.0,
        gt=0,
        le=10_000,
        description="Sustained event messages accepted per edge per second (token bucket).",
    )
    edge_event_burst: int = Field(
        default=600,
        ge=1,
        le=1_000_000,
        description="Event messages one edge may send at once above its sustained rate.",
    )
    max_events_per_case: int = Field(
        default=200,
        ge=2,
        le=100_000,
        description="Most distinct event messages one case keeps (an end is always taken).",
    )
    max_evidence_per_case: int = Field(
        default=64,
        ge=1,
        le=10_000,
        description="Most evidence items one case references.",
    )
    max_clock_skew_s: float = Field(
        default=300.0,
        ge=0,
        le=24 * 3600,
        description="How far in the future an event or evidence time may lie, seconds.",
    )
    max_evidence_side_px: int = Field(
        default=8192,
        ge=64,
        le=65535,
        description="Largest width or height of an evidence image, pixels (read from its header).",
    )
    max_evidence_pixels: int = Field(
        default=40_000_000,
        ge=4096,
        le=1_000_000_000,
        description="Largest width x height of an evidence image, pixels.",
    )


def _without_env_values(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` less what the environment sets, which wins over a config file.

    A nested block (``mqtt``) loses only the fields the environment sets
    (``CIVICWATCH_MQTT__PORT``), unless the environment sets the whole block as JSON.
    Names are compared case-insensitively.
    """
    present = {key.upper() for key in os.environ}
    kept: dict[str, Any] = {}
    for name, value in values.items():
        env_name = f"{ENV_PREFIX}{name}".upper()
        if env_name in present:
            continue
        if isinstance(value, dict):
            nested = f"{env_name}{ENV_NESTED_DELIMITER}"
            value = {k: v for k, v in value.items() if f"{nested}{k}".upper() not in present}
        kept[name] = value
    return kept


def _read_config_file(path: Path) -> YamlDocument:
    """Parse the file; unknown settings are refused at their line with a suggestion."""
    try:
        document = read_yaml(
            path, expected="a mapping of setting names to values", allow_empty=True
        )
    except ConfigError as exc:
        raise SettingsError("\n".join(exc.problems)) from exc
    problems = [
        document.render(
            Problem(
                document.line_of((str(key),)),
                f"unknown setting '{key}'{did_you_mean(str(key), Settings, ())}",
            )
        )
        for key in document.data
        if key not in Settings.model_fields
    ]
    if problems:
        raise SettingsError("\n".join(problems))
    return document


def _describe(exc: ValidationError, document: YamlDocument | None, from_file: set[str]) -> str:
    """One line per error: ``file:line: field: message`` for values the file gave."""
    parts = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        if document is not None and loc and str(loc[0]) in from_file:
            parts.append(document.render(describe_error(error, document, Settings)))
        else:
            where = ".".join(str(item) for item in loc) or "settings"
            parts.append(f"settings: {where}: {error['msg']}")
    return "\n".join(parts)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from defaults, an optional YAML file, the environment and overrides.

    Args:
        config_file: YAML mapping of setting names to values, or ``None``.
        **overrides: Values that win over everything (used by the CLI for ``--host``).

    Returns:
        Validated settings.

    Raises:
        SettingsError: The file is unreadable, not YAML, names an unknown setting or a
            secret, or a value is out of bounds; the message names the file and field.
    """
    document = _read_config_file(config_file) if config_file is not None else None
    file_values = {str(k): v for k, v in document.data.items()} if document else {}
    init_values = _without_env_values(file_values)
    from_file = set(init_values) - set(overrides)
    init_values.update(overrides)
    try:
        return Settings(**init_values)
    except ValidationError as exc:
        raise SettingsError(_describe(exc, document, from_file)) from exc
