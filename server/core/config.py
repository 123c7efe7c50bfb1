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

import ipaddress
import logging
import os
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.limits import MAX_EVIDENCE_BYTES
from contracts.mqtt import MqttSettings
from contracts.yamlconfig import (
    ConfigError,
    Problem,
    YamlDocument,
    describe_error,
    did_you_mean,
    read_yaml,
)
from server.cameras.settings import CameraToolSettings
from server.core.ingest_settings import IngestSettings
from server.core.s3_settings import S3Settings

logger = logging.getLogger(__name__)

ENV_PREFIX = "CIVICWATCH_"
ENV_NESTED_DELIMITER = "__"


class SettingsError(ValueError):
    """A configuration file or environment variable is unusable; the message says why."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a bind address or name) only reaches this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class LoginLimits(BaseModel):
    """How hard password guessing is made (argon2 hashing is deliberately expensive)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    max_concurrent_hashes: Annotated[int, Field(ge=1, le=64)] = 4
    """Password checks running at once; further logins get 429 at once."""
    per_ip_in_flight: Annotated[int, Field(ge=1, le=64)] = 2
    """Logins one client address may have running at once."""
    ip_failures: Annotated[int, Field(ge=1, le=10_000)] = 20
    """Failed logins one client address may make per ip_window_s before 429."""
    ip_window_s: Annotated[int, Field(ge=1, le=86_400)] = 600
    """Window of the per-address failure count, s."""
    account_failures: Annotated[int, Field(ge=1, le=1000)] = 5
    """Consecutive failed logins after which the account is locked for lockout_s."""
    lockout_s: Annotated[int, Field(ge=1, le=86_400)] = 30
    """First lockout of an account, s; it doubles with every further failure."""
    lockout_max_s: Annotated[int, Field(ge=1, le=7 * 86_400)] = 3600
    """Longest lockout of an account, s."""


class HttpLimits(BaseModel):
    """Largest request bodies, refused before authentication or parsing."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    body_bytes: Annotated[int, Field(ge=1024, le=256 * 1024 * 1024)] = 1024 * 1024
    """Largest request body of any route, bytes (413 beyond)."""
    login_body_bytes: Annotated[int, Field(ge=1024, le=1024 * 1024)] = 16 * 1024
    """Largest body of the login routes (API and page), bytes."""
    clip_chunk_bytes: Annotated[int, Field(ge=1024, le=256 * 1024 * 1024)] = 8 * 1024 * 1024
    """Largest chunk of a clip upload (PUT /api/v1/evidence/clips/{sha256}), bytes: the edge's
    clip_upload.chunk_bytes is at most 8 MiB (512 KiB by default). Disposal reports take
    lifecycle.max_photos x lifecycle.max_photo_bytes and their form instead of body_bytes.
    """


class RetentionSettings(BaseModel):
    """What ``civicwatch server retention`` (and the server, every interval_s) deletes.

    A case on legal hold is never deleted, nor is evidence any kept case refers to.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    rejected_days: Annotated[int | None, Field(ge=1, le=36_500)] = 90
    """Delete rejected cases (and their evidence) this many days after review."""
    case_days: Annotated[int | None, Field(ge=1, le=36_500)] = None
    """Delete any case (whatever its status) this many days after it was last updated; null keeps
    candidates, confirmed and escalated cases.
    """
    orphan_evidence_days: Annotated[int | None, Field(ge=1, le=36_500)] = 30
    """Delete evidence no case refers to this many days after it arrived."""
    interval_s: Annotated[int, Field(ge=0, le=30 * 86_400)] = 6 * 3600
    """How often the running server applies the policy, s; 0 only by command."""


DeadlineType = Literal["street_stall", "cross_door", "muck_truck", "construction"]
"""The violation types a dispatch deadline is set for (contracts.events.ViolationType)."""


def _default_deadlines() -> dict[DeadlineType, float]:
    return {"street_stall": 2.0, "cross_door": 24.0, "muck_truck": 72.0, "construction": 24.0}


class LifecycleSettings(BaseModel):
    """Dispatch deadlines, the overdue check and disposal photo limits (server.lifecycle)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    deadline_hours: dict[DeadlineType, Annotated[float, Field(gt=0, le=365 * 24)]] = Field(
        default_factory=_default_deadlines
    )
    """Default deadline of a dispatch per violation type, hours (a dispatch may set its own)."""
    default_deadline_hours: Annotated[float, Field(gt=0, le=365 * 24)] = 24.0
    """Deadline of a violation type missing from deadline_hours, hours."""
    overdue_interval_s: Annotated[int, Field(ge=0, le=86_400)] = 60
    """How often the running server marks dispatched cases whose deadline passed, s; 0 never."""
    max_photo_bytes: Annotated[int, Field(ge=1024, le=256 * 1024 * 1024)] = 10 * 1024 * 1024
    """Largest disposal photo, bytes (413 beyond); a report's body may hold max_photos of them."""
    max_photo_pixels: Annotated[int, Field(ge=4096, le=1_000_000_000)] = 40_000_000
    """Largest disposal photo, width x height (422 beyond)."""
    max_photos: Annotated[int, Field(ge=1, le=100)] = 10
    """Most photos in one disposal."""


class HealthSettings(BaseModel):
    """What /healthz counts as failing."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    min_free_mb: Annotated[int, Field(ge=0, le=1024 * 1024)] = 256
    """Free space under which the evidence, dead-letter or database disk is failing; the ingest
    waits (unacknowledged) until it is back.
    """
    database_dir: Path | None = None
    """The database's data directory when it is on this host (PostgreSQL); for SQLite the database
    file's directory is watched anyway.
    """
    ingest_stall_s: Annotated[int, Field(ge=1, le=86_400)] = 60
    """An ingest that has waited this long on one message is reported stalled."""


class WebhookSettings(BaseModel):
    """The webhook dispatcher (server.webhooks): how it polls, sends and retries."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    enabled: bool = True
    """Run the dispatcher in the server (every replica may: deliveries are claimed with a lease)."""
    poll_interval_s: Annotated[float, Field(gt=0, le=3600)] = 2.0
    """How often new cases and transitions are turned into deliveries and due ones sent, s."""
    timeout_s: Annotated[float, Field(gt=0, le=120)] = 10.0
    """Connect plus response timeout of one delivery attempt, s."""
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 8
    """Failed attempts after which a delivery goes to the dead letters."""
    backoff_base_s: Annotated[float, Field(gt=0, le=86_400)] = 10.0
    """Wait after the first failure, s; doubled after each further one (with jitter)."""
    backoff_max_s: Annotated[float, Field(gt=0, le=7 * 86_400)] = 3600.0
    """Longest wait between two attempts, s."""
    lease_s: Annotated[float, Field(ge=1, le=3600)] = 120.0
    """How long a replica holds a claimed delivery; must exceed timeout_s (another replica
    takes the delivery over after it)."""
    batch: Annotated[int, Field(ge=1, le=10_000)] = 100
    """Source rows turned into events, and deliveries claimed, per round."""
    concurrency: Annotated[int, Field(ge=1, le=64)] = 4
    """Deliveries sent at once."""
    settle_s: Annotated[float, Field(ge=0, le=86_400)] = 300.0
    """Source rows younger than this are looked at again (a transaction that took its id earlier
    may commit later); longer than any write transaction of the server."""
    keep_days: Annotated[int, Field(ge=2, le=36_500)] = 90
    """Delivered deliveries (and their attempts and events) are deleted this many days after
    delivery; dead and pending ones are kept."""

    @model_validator(mode="after")
    def _lease_covers_timeout(self) -> Self:
        if self.lease_s <= self.timeout_s:
            raise ValueError(
                f"lease_s ({self.lease_s}) must exceed timeout_s ({self.timeout_s}): "
                "another replica would send a delivery still in flight"
            )
        return self


class Settings(BaseSettings):
    """Everything the server needs to run, validated at start."""

    model_config = SettingsConfigDict(
        use_attribute_docstrings=True,
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED_DELIMITER,
        extra="forbid",
        frozen=True,
        env_file=None,
    )

    database_url: Annotated[str, Field(min_length=1, max_length=1024)] = (
        "sqlite:///var/server/civicwatch.db"
    )
    """SQLAlchemy URL of the case database: sqlite:///PATH (relative to the working directory) or
    postgresql+psycopg://USER@HOST:PORT/DB.
    """
    evidence_dir: Path = Path("var/server/evidence")
    """Directory where evidence bytes are stored by content hash."""
    evidence_backend: Literal["filesystem", "s3"] = "filesystem"
    """Where evidence bytes go: evidence_dir (filesystem) or the s3 block's bucket (s3; needs the
    s3 extra, boto3).
    """
    s3: S3Settings = Field(default_factory=S3Settings)
    """The S3-compatible object store of evidence_backend s3 (CIVICWATCH_S3__<FIELD>; keys from
    CIVICWATCH_S3_ACCESS_KEY_ID and CIVICWATCH_S3_SECRET_ACCESS_KEY only).
    """
    metrics_token: Annotated[SecretStr | None, Field(min_length=32, max_length=256)] = None
    """Bearer token a Prometheus scraper may send to GET /metrics instead of a login; environment
    CIVICWATCH_METRICS_TOKEN only (refused in a config file).
    """
    mqtt_enabled: bool = True
    """Run the MQTT ingest; off serves the API and pages only."""
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    """The broker connection of the ingest (contracts.mqtt.MqttSettings, the edge's shape);
    environment CIVICWATCH_MQTT__<FIELD>, e.g. CIVICWATCH_MQTT__HOST. The ingest's client id
    defaults to civicwatch-server and its session expiry to 7 days: it must exceed the longest
    server outage (0 loses what is published while the server is down).
    """
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    """Replicas sharing the ingest (MQTT 5 shared subscriptions) and group commits
    (CIVICWATCH_INGEST__<FIELD>).
    """
    dead_letter_dir: Path = Path("var/server/dead-letter")
    """Where a message that keeps failing for an unexpected reason (not a rejection, not the
    database being away) is copied before it is acknowledged.
    """
    auth_enabled: bool = False
    """Require a login (roles operator, reviewer, admin) for the API, the evidence and the review
    page. Off, everything is open and the server says so at start: for a demo on loopback only.
    """
    auth_token_ttl_s: Annotated[int, Field(ge=60, le=30 * 24 * 3600)] = 12 * 3600
    """How long a login (bearer token / session cookie) stays valid, seconds."""
    auth_cookie_secure: bool | None = None
    """Send the session cookie over HTTPS only. null: when the request came over https (or
    X-Forwarded-Proto https from a trusted proxy) or http_host is not loopback.
    """
    trusted_proxies: Annotated[tuple[str, ...], Field(max_length=64)] = ()
    """Addresses or networks of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto
    headers are believed (e.g. ['127.0.0.1']).
    """
    insecure: bool = False
    """Allow auth_enabled false on an http_host that is not loopback (CLI --insecure). Anyone who
    reaches the port then acts as admin.
    """
    login: LoginLimits = Field(default_factory=LoginLimits)
    """Login rate limits and account lockout (CIVICWATCH_LOGIN__<FIELD>)."""
    http_limits: HttpLimits = Field(default_factory=HttpLimits)
    """Request body limits (CIVICWATCH_HTTP_LIMITS__<FIELD>)."""
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    """Retention of rejected and expired cases and of their evidence."""
    units_file: Path | None = None
    """The units tree and camera registry (configs/units.yaml); loaded (upserted) at start."""
    lifecycle: LifecycleSettings = Field(default_factory=LifecycleSettings)
    """Dispatch deadlines, the overdue check and disposal photo limits."""
    health: HealthSettings = Field(default_factory=HealthSettings)
    """Free-space and stall thresholds of /healthz and the ingest."""
    cameras: CameraToolSettings = Field(default_factory=CameraToolSettings)
    """Camera alarms (dark / frozen / turned away), health history, snapshot timeout."""
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    """Signed webhooks to the city's case system (CIVICWATCH_WEBHOOKS__<FIELD>)."""
    default_locale: Literal["zh-CN", "en"] = "zh-CN"
    """Language of the pages until a user picks another with the switch (a cookie)."""
    map_tile_url: Annotated[str | None, Field(max_length=512)] = None
    """An intranet tile server for the map page, e.g. https://tiles.city.local/{z}/{x}/{y}.png
    (http or https, with {z}, {x} and {y}); null: the map draws unit outlines only (offline).
    The pages' Content-Security-Policy then allows images from that origin.
    """
    http_host: Annotated[str, Field(min_length=1, max_length=255)] = "127.0.0.1"
    """Address the HTTP server binds to."""
    http_port: Annotated[int, Field(ge=1, le=65535)] = 8000
    """HTTP server TCP port."""
    max_evidence_bytes: Annotated[int, Field(ge=1024, le=MAX_EVIDENCE_BYTES)] = MAX_EVIDENCE_BYTES
    """Largest evidence payload accepted over MQTT, in bytes; at most the one limit the edge and
    the broker agree on (contracts.limits.MAX_EVIDENCE_BYTES).
    """
    max_event_bytes: Annotated[int, Field(ge=1024, le=16 * 1024 * 1024)] = 256 * 1024
    """Largest event JSON payload accepted over MQTT, in bytes."""
    ingest_require_chain: bool = True
    """An event becomes part of a case only when a verified chain record of its own edge names it;
    others wait in the quarantine (with the reason) until the record arrives or they age out.
    Off only for tests of unsigned edges.
    """
    quarantine_max_age_s: Annotated[int, Field(ge=60, le=365 * 24 * 3600)] = 3 * 24 * 3600
    """How long an event waits in the quarantine for its chain record, seconds."""
    quarantine_max_per_edge: Annotated[int, Field(ge=1, le=1_000_000)] = 1000
    """Most events of one edge waiting in the quarantine; more are refused."""
    edge_event_rate_per_s: Annotated[float, Field(gt=0, le=10_000)] = 5.0
    """Sustained event messages let into cases per edge per second (token bucket); faster ones
    wait in the quarantine (rate_limited) and are let in at this rate.
    """
    edge_event_burst: Annotated[int, Field(ge=1, le=1_000_000)] = 600
    """Event messages one edge may send at once above its sustained rate."""
    max_events_per_case: Annotated[int, Field(ge=2, le=100_000)] = 200
    """Most distinct event messages one case keeps (an end is always taken)."""
    max_evidence_per_case: Annotated[int, Field(ge=1, le=10_000)] = 64
    """Most evidence items one case references."""
    max_clock_skew_s: Annotated[float, Field(ge=0, le=24 * 3600)] = 300.0
    """How far in the future an event or evidence time may lie, seconds."""
    max_evidence_side_px: Annotated[int, Field(ge=64, le=65535)] = 8192
    """Largest width or height of an evidence image, pixels (read from its header)."""
    max_evidence_pixels: Annotated[int, Field(ge=4096, le=1_000_000_000)] = 40_000_000
    """Largest width x height of an evidence image, pixels."""

    @field_validator("map_tile_url")
    @classmethod
    def _tile_template(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{value!r} must be an http or https URL")
        missing = [name for name in ("{z}", "{x}", "{y}") if name not in value]
        if missing:
            raise ValueError(f"{value!r} lacks {', '.join(missing)}")
        return value

    def map_tile_origin(self) -> str | None:
        """The scheme and host of ``map_tile_url`` (what the CSP allows), or ``None``."""
        if self.map_tile_url is None:
            return None
        parts = urlsplit(self.map_tile_url)
        return f"{parts.scheme}://{parts.netloc}"

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(f"{item!r} is not an IP address or network") from exc
        return value

    @model_validator(mode="after")
    def _open_only_on_loopback(self) -> Self:
        if not self.auth_enabled and not self.insecure and not is_loopback(self.http_host):
            raise ValueError(
                f"auth_enabled is false and http_host {self.http_host!r} is not loopback: "
                "anyone who reaches it could read evidence and give verdicts. Turn "
                "auth_enabled on (and add accounts with 'civicwatch users add'), bind to "
                "127.0.0.1, or pass --insecure to accept that"
            )
        return self

    def cookie_secure(self, *, https: bool) -> bool:
        """Whether the session cookie gets ``Secure`` for a request (``https``: it came so)."""
        if self.auth_cookie_secure is not None:
            return self.auth_cookie_secure
        return https or not is_loopback(self.http_host)


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
    if "metrics_token" in document.data:  # a secret: environment only
        where = document.line_of(("metrics_token",))
        env_only = "metrics_token may only come from the environment (CIVICWATCH_METRICS_TOKEN)"
        problems.append(document.render(Problem(where, env_only)))
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
