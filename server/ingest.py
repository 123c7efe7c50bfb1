"""MQTT ingest: edge events, evidence bytes and availability into the case database.

The handlers are plain functions of ``(session, topic, payload, properties)`` so they are
tested without a broker; :func:`dispatch` routes one message, owns its transaction and
never raises; :class:`MqttIngest` runs a paho-mqtt 2.x client (MQTT v5, QoS 1,
automatic reconnect) in paho's network thread and feeds :func:`dispatch`.

Bad input (a wrong topic shape, an oversized payload, broken JSON, a schema violation,
an evidence hash that does not match its topic, a chain record that does not verify) is
refused with one log line naming the edge, the topic and the reason, and counted in
:class:`IngestMetrics`; nothing already accepted is touched.

Durability: the ingest's MQTT session outlives the connection (a stable client id,
clean start off, a session expiry), so the broker keeps what arrives while the server
is down and delivers it on reconnect. Messages are acknowledged by hand (PUBACK) only
after :func:`dispatch` has committed them (evidence bytes are fsynced before that
commit), so a server killed mid-ingest gets the message again; every handler is
idempotent (event messages by payload hash under ``event_id``, evidence by hash, chain
records by edge, sequence and hash), so a redelivery changes nothing. A transient
database failure is retried, unacknowledged, until it succeeds or the server stops; a
message that keeps failing unexpectedly is copied to the dead-letter directory before
it is acknowledged.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import ssl
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final, get_args

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from contracts.chain import SignedChainRecord, canonical_json, event_digest
from contracts.events import EvidenceRef, ZoneEvent
from contracts.topics import (
    AVAILABILITY_SUBSCRIPTION,
    CHAIN_SUBSCRIPTION,
    EVENTS_SUBSCRIPTION,
    EVIDENCE_SUBSCRIPTION,
    PREFIX,
    parse_edge_topic,
)
from server import chain_store, crud
from server.core.config import Settings
from server.core.db import utcnow
from server.evidence_store import EvidenceHashMismatchError, EvidenceStore, check_sha256
from server.tables import EdgeAvailability

logger = logging.getLogger(__name__)

EVIDENCE_CONTENT_TYPES: Final[frozenset[str]] = frozenset(
    get_args(EvidenceRef.model_fields["content_type"].annotation)
)
"""Content types an evidence payload may declare (those the wire contract allows)."""

_MAGIC: Final[dict[str, tuple[bytes, ...]]] = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
}


class IngestRejectedError(ValueError):
    """A message is refused; ``code`` is a short metric key, the message says why."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    """What became of one MQTT message.

    Attributes:
        topic: The topic it arrived on.
        accepted: Stored (or already stored: see ``code``).
        code: ``event``, ``event_duplicate``, ``evidence``, ``evidence_duplicate``,
            ``availability`` when accepted; the rejection reason code otherwise.
        detail: A human-readable explanation.
        case_id: The case an event went to, if any.
    """

    topic: str
    accepted: bool
    code: str
    detail: str = ""
    case_id: int | None = None


@dataclass(frozen=True, slots=True)
class IngestCounts:
    """A snapshot of :class:`IngestMetrics`."""

    accepted: dict[str, int]
    rejected: dict[str, int]


class IngestMetrics:
    """Thread-safe counters of accepted and rejected messages by code."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accepted: Counter[str] = Counter()
        self._rejected: Counter[str] = Counter()

    def record(self, outcome: IngestOutcome) -> None:
        with self._lock:
            (self._accepted if outcome.accepted else self._rejected)[outcome.code] += 1

    def snapshot(self) -> IngestCounts:
        with self._lock:
            return IngestCounts(accepted=dict(self._accepted), rejected=dict(self._rejected))


@dataclass(frozen=True, slots=True)
class IngestLimits:
    """Size limits applied before any parsing."""

    max_event_bytes: int = 256 * 1024
    max_evidence_bytes: int = 20 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class IngestContext:
    """What the handlers need besides the session: the evidence store and limits."""

    store: EvidenceStore
    limits: IngestLimits = field(default_factory=IngestLimits)


def _edge_of(topic: str) -> str:
    parts = topic.split("/")
    return parts[3] if len(parts) > 3 and "/".join(parts[:3]) == f"{PREFIX}/edges" else "?"


def _split(topic: str, expected_kind: str) -> tuple[str, str]:
    try:
        edge_id, kind, key = parse_edge_topic(topic)
    except ValueError as exc:
        raise IngestRejectedError("bad_topic", str(exc)) from exc
    if kind != expected_kind:
        raise IngestRejectedError("bad_topic", f"expected a {expected_kind} topic, got {kind!r}")
    return edge_id, key


def _describe_validation(exc: ValidationError) -> tuple[str, str]:
    errors = exc.errors(include_url=False, include_input=False)
    code = "bad_json" if any(e["type"] == "json_invalid" for e in errors) else "invalid_event"
    parts = [
        f"{'.'.join(str(item) for item in e['loc']) or 'payload'}: {e['msg']}" for e in errors[:3]
    ]
    more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
    return code, "; ".join(parts) + more


def _content_type(properties: Properties | None) -> str | None:
    value = getattr(properties, "ContentType", None) if properties is not None else None
    return value if isinstance(value, str) and value else None


def handle_event(
    session: Session,
    topic: str,
    payload: bytes,
    properties: Properties | None,
    *,
    context: IngestContext,
    now: datetime,
) -> IngestOutcome:
    """Validate a :class:`contracts.ZoneEvent` message and upsert its case.

    Raises:
        IngestRejectedError: Bad topic, oversized payload, bad JSON, schema violation,
            topic/payload mismatch, or an ``event_id`` that belongs to another camera.
    """
    del properties  # events carry everything in the JSON body
    edge_id, camera_id = _split(topic, "events")
    if len(payload) > context.limits.max_event_bytes:
        raise IngestRejectedError(
            "too_large",
            f"{len(payload)} bytes exceeds max_event_bytes {context.limits.max_event_bytes}",
        )
    try:
        event = ZoneEvent.from_json(payload)
    except ValidationError as exc:
        code, reason = _describe_validation(exc)
        raise IngestRejectedError(code, reason) from exc
    if event.edge_id != edge_id or event.camera_id != camera_id:
        raise IngestRejectedError(
            "topic_mismatch",
            f"payload edge_id/camera_id {event.edge_id}/{event.camera_id} "
            f"do not match topic {edge_id}/{camera_id}",
        )
    canonical = event.model_dump(mode="json")
    digest = event_digest(event)  # what the edge's chain record names as event_sha256
    try:
        result = crud.upsert_event(
            session, event=event, payload=canonical, payload_sha256=digest, received_at=now
        )
    except crud.EventConflictError as exc:
        raise IngestRejectedError("event_conflict", str(exc)) from exc
    crud.touch_edge(session, edge_id=edge_id, at=now)
    for ref in event.evidence:
        stored = crud.get_evidence(session, sha256=ref.sha256)
        if stored is not None and (
            stored.byte_size != ref.byte_size or stored.content_type != ref.content_type
        ):
            logger.warning(
                "event %s from edge %s describes evidence %s as %s, %d bytes; stored bytes "
                "are %s, %d bytes (stored bytes match the hash and are kept)",
                event.event_id,
                edge_id,
                ref.sha256,
                ref.content_type,
                ref.byte_size,
                stored.content_type,
                stored.byte_size,
            )
    if result.duplicate:
        code, detail = "event_duplicate", f"replay of an already stored {event.phase} message"
    else:
        verb = "created" if result.created else "updated"
        code, detail = "event", f"{event.phase} {verb} case {result.case_id}"
    return IngestOutcome(
        topic=topic, accepted=True, code=code, detail=detail, case_id=result.case_id
    )


def _check_magic(content_type: str, payload: bytes) -> None:
    magics = _MAGIC.get(content_type)
    if magics is not None and not payload.startswith(magics):
        raise IngestRejectedError("content_mismatch", f"payload does not start like {content_type}")
    if content_type == "application/json":
        try:
            json.loads(payload)
        except ValueError as exc:
            raise IngestRejectedError(
                "content_mismatch", "payload declared application/json is not valid JSON"
            ) from exc


def _sniff(payload: bytes) -> str | None:
    """The content type the bytes themselves show (for MQTT 3.1.1, which has no property)."""
    for content_type, magics in _MAGIC.items():
        if payload.startswith(magics):
            return content_type
    if payload[:1] in (b"{", b"["):
        try:
            json.loads(payload)
        except ValueError:
            return None
        return "application/json"
    return None


def handle_evidence(
    session: Session,
    topic: str,
    payload: bytes,
    properties: Properties | None,
    *,
    context: IngestContext,
    now: datetime,
) -> IngestOutcome:
    """Check evidence bytes against the hash in their topic and store them.

    The content type comes from the MQTT v5 ``ContentType`` property; when absent (MQTT
    3.1.1), from an event that already references the hash, else from the bytes' signature.

    Raises:
        IngestRejectedError: Bad topic or hash, empty or oversized payload, hash mismatch,
            missing or unsupported content type, or bytes that are not what they claim.
    """
    edge_id, sha256 = _split(topic, "evidence")
    try:
        check_sha256(sha256)
    except ValueError as exc:
        raise IngestRejectedError("bad_topic", str(exc)) from exc
    if not payload:
        raise IngestRejectedError("empty_payload", "evidence payload is empty")
    if len(payload) > context.limits.max_evidence_bytes:
        raise IngestRejectedError(
            "too_large",
            f"{len(payload)} bytes exceeds max_evidence_bytes {context.limits.max_evidence_bytes}",
        )
    actual = hashlib.sha256(payload).hexdigest()
    if actual != sha256:
        raise IngestRejectedError(
            "hash_mismatch", f"payload hashes to {actual}, topic says {sha256}"
        )
    refs = crud.evidence_references(session, sha256=sha256)
    content_type = _content_type(properties)
    if content_type is None:
        declared = {ref.content_type for ref in refs}
        content_type = declared.pop() if len(declared) == 1 else _sniff(payload)
        if content_type is None:
            raise IngestRejectedError(
                "no_content_type",
                "no MQTT ContentType property, no event names its type, and the bytes are "
                "not JPEG, PNG or JSON",
            )
    if content_type not in EVIDENCE_CONTENT_TYPES:
        raise IngestRejectedError(
            "bad_content_type",
            f"content type {content_type[:64]!r} is not one of {sorted(EVIDENCE_CONTENT_TYPES)}",
        )
    _check_magic(content_type, payload)
    for ref in refs:
        if ref.content_type != content_type or ref.byte_size != len(payload):
            logger.warning(
                "evidence %s from edge %s is %s, %d bytes; case %d described it as %s, %d "
                "bytes (the bytes match the hash and are kept)",
                sha256,
                edge_id,
                content_type,
                len(payload),
                ref.case_id,
                ref.content_type,
                ref.byte_size,
            )
    try:
        context.store.write(sha256, payload)
    except EvidenceHashMismatchError as exc:  # pragma: no cover - checked above
        raise IngestRejectedError("hash_mismatch", str(exc)) from exc
    created = crud.add_evidence(
        session,
        sha256=sha256,
        content_type=content_type,
        byte_size=len(payload),
        edge_id=edge_id,
        received_at=now,
    )
    crud.touch_edge(session, edge_id=edge_id, at=now)
    cases = sorted({ref.case_id for ref in refs})
    detail = f"{len(payload)} bytes {content_type}; referenced by case(s) {cases}"
    return IngestOutcome(
        topic=topic,
        accepted=True,
        code="evidence" if created else "evidence_duplicate",
        detail=detail,
    )


MAX_CHAIN_RECORD_BYTES: Final[int] = 128 * 1024
"""Largest chain record accepted (a drop record lists at most 1,000 hashes: ~70 kB)."""


def handle_chain(
    session: Session,
    topic: str,
    payload: bytes,
    properties: Properties | None,
    *,
    context: IngestContext,
    now: datetime,
) -> IngestOutcome:
    """Verify and store one signed chain record (:mod:`contracts.chain`).

    A record whose signature fails is refused but the issue it raises is committed
    (the outcome is returned, not raised); see :func:`server.chain_store.ingest_record`.

    Raises:
        IngestRejectedError: Bad topic, oversized payload, bad JSON, schema violation,
            topic/record mismatch, or content that does not hash to the record's hash.
    """
    del properties, context
    edge_id, key = _split(topic, "chain")
    if not key.isdigit() or key.startswith("0"):
        raise IngestRejectedError("bad_topic", f"chain topic key {key[:32]!r} is not a seq")
    if len(payload) > MAX_CHAIN_RECORD_BYTES:
        raise IngestRejectedError(
            "too_large", f"{len(payload)} bytes exceeds {MAX_CHAIN_RECORD_BYTES} for a record"
        )
    try:
        signed = SignedChainRecord.from_json(payload)
    except ValidationError as exc:
        code, reason = _describe_validation(exc)
        raise IngestRejectedError(
            "bad_json" if code == "bad_json" else "invalid_record", reason
        ) from exc
    record = signed.record
    if record.edge_id != edge_id or str(record.seq) != key:
        raise IngestRejectedError(
            "topic_mismatch",
            f"record edge_id/seq {record.edge_id}/{record.seq} do not match topic {edge_id}/{key}",
        )
    actual = record.digest()
    if actual != signed.hash:
        raise IngestRejectedError(
            "hash_mismatch", f"record content hashes to {actual}, the record says {signed.hash}"
        )
    result = chain_store.ingest_record(session, signed=signed, now=now)
    if result.stored:
        crud.touch_edge(session, edge_id=edge_id, at=now)
    return IngestOutcome(
        topic=topic, accepted=result.stored, code=result.code, detail=result.detail
    )


def handle_availability(
    session: Session,
    topic: str,
    payload: bytes,
    properties: Properties | None,
    *,
    context: IngestContext,
    now: datetime,
) -> IngestOutcome:
    """Record an edge's retained ``online`` / last-will ``offline``.

    Raises:
        IngestRejectedError: A topic of the wrong shape or a payload other than the two words.
    """
    del properties, context
    parts = topic.split("/")
    if len(parts) != 5 or "/".join(parts[:3]) != f"{PREFIX}/edges" or parts[4] != "availability":
        raise IngestRejectedError("bad_topic", f"not an availability topic: {topic[:200]!r}")
    try:
        edge_id = parse_edge_topic(f"{topic}/x")[0]
    except ValueError as exc:
        raise IngestRejectedError("bad_topic", str(exc)) from exc
    text = payload.decode("utf-8", errors="replace").strip()
    try:
        availability = EdgeAvailability(text)
    except ValueError as exc:
        raise IngestRejectedError(
            "bad_availability", f"payload {text[:32]!r} is not 'online' or 'offline'"
        ) from exc
    crud.set_edge_availability(session, edge_id=edge_id, availability=availability, at=now)
    return IngestOutcome(topic=topic, accepted=True, code="availability", detail=text)


def _handler_for(topic: str) -> Any:
    parts = topic.split("/")
    if len(parts) == 5 and parts[4] == "availability":
        return handle_availability
    if len(parts) == 6 and parts[4] == "events":
        return handle_event
    if len(parts) == 6 and parts[4] == "evidence":
        return handle_evidence
    if len(parts) == 6 and parts[4] == "chain":
        return handle_chain
    return None


def dispatch(
    session_factory: sessionmaker[Session],
    topic: str,
    payload: bytes,
    properties: Properties | None,
    *,
    context: IngestContext,
    metrics: IngestMetrics,
    now: datetime,
) -> IngestOutcome:
    """Route one message to its handler in its own transaction; never raises.

    A rejection rolls back only this message's transaction and logs one line naming the
    edge, the topic and the reason. A unique-key race (another writer inserted the same
    case or evidence meanwhile) is retried once.
    """
    handler = _handler_for(topic)
    outcome: IngestOutcome
    if handler is None:
        outcome = IngestOutcome(
            topic=topic, accepted=False, code="bad_topic", detail="unknown topic shape"
        )
    else:
        for attempt in (1, 2):
            try:
                with session_factory() as session, session.begin():
                    outcome = handler(session, topic, payload, properties, context=context, now=now)
                break
            except IngestRejectedError as exc:
                outcome = IngestOutcome(
                    topic=topic, accepted=False, code=exc.code, detail=exc.reason
                )
                break
            except IntegrityError:
                if attempt == 2:
                    logger.exception("ingest of %s failed twice on a unique key", topic[:200])
                    outcome = IngestOutcome(
                        topic=topic,
                        accepted=False,
                        code="db_conflict",
                        detail="unique-key conflict on retry",
                    )
            except OperationalError:
                logger.exception("database unavailable while ingesting %s", topic[:200])
                outcome = IngestOutcome(
                    topic=topic,
                    accepted=False,
                    code="db_unavailable",
                    detail="database error; see the log",
                )
                break
            except Exception:
                logger.exception("unexpected error while ingesting %s", topic[:200])
                outcome = IngestOutcome(
                    topic=topic,
                    accepted=False,
                    code="internal_error",
                    detail="unexpected error; see the log",
                )
                break
    metrics.record(outcome)
    if outcome.accepted:
        logger.debug("accepted %s: %s", topic, outcome.detail)
    elif outcome.code not in {"db_unavailable", "internal_error", "db_conflict"}:
        logger.warning(
            "rejected MQTT message from edge %s on %s (%d bytes): %s: %s",
            _edge_of(topic),
            topic[:200],
            len(payload),
            outcome.code,
            outcome.detail,
        )
    return outcome


TRANSIENT_CODES: Final[frozenset[str]] = frozenset(
    {"db_unavailable", "internal_error", "db_conflict"}
)
"""Outcomes that say nothing about the message itself: it is retried, not acknowledged."""

UNEXPECTED_ATTEMPTS: Final[int] = 3
"""Tries before a message that fails unexpectedly (not the database) is dead-lettered."""


def write_dead_letter(directory: Path, topic: str, payload: bytes, outcome: IngestOutcome) -> Path:
    """Store a message that could not be ingested, durably (temp file, fsync, rename).

    The file is JSON: topic, payload (base64), the failure code and detail.
    """
    directory.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(topic.encode("utf-8", "replace") + b"\0" + payload).hexdigest()
    path = directory / f"{utcnow():%Y%m%dT%H%M%S}-{digest[:16]}.json"
    document = {
        "topic": topic,
        "payload_base64": base64.b64encode(payload).decode("ascii"),
        "code": outcome.code,
        "detail": outcome.detail,
    }
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=".dead-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(canonical_json(document))
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp_name).replace(path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


@dataclass(frozen=True, slots=True)
class MqttStatus:
    """The ingest client's connection state, for ``/healthz``."""

    enabled: bool
    connected: bool
    host: str
    port: int


class MqttIngest:
    """A paho-mqtt client that subscribes to edge topics and dispatches every message.

    paho's network thread (``loop_start``) connects, reconnects with backoff, and calls
    :func:`dispatch` for each message in arrival order. The session is persistent
    (client id ``settings.mqtt_client_id``, clean start off, session expiry
    ``settings.mqtt_session_expiry_s``) and every QoS 1 message is acknowledged only
    after its transaction committed (paho manual acknowledgement).

    While the database is unavailable the message is retried with backoff on paho's
    thread; the broker may drop the connection meanwhile (no keep-alive), which loses
    nothing: the unacknowledged message and everything after it wait in the session.

    Args:
        settings: Broker address, credentials, client id, session expiry and limits.
        session_factory: Where each message's transaction is opened.
        context: Evidence store and limits for the handlers.
        metrics: Counters shared with ``/healthz``.
    """

    def __init__(
        self,
        *,
        settings: Settings,
        session_factory: sessionmaker[Session],
        context: IngestContext,
        metrics: IngestMetrics,
    ) -> None:
        self._settings = settings
        self._session_factory = session_factory
        self._context = context
        self._metrics = metrics
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._client: mqtt.Client | None = None

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def status(self) -> MqttStatus:
        return MqttStatus(
            enabled=True,
            connected=self.connected,
            host=self._settings.mqtt_host,
            port=self._settings.mqtt_port,
        )

    def wait_connected(self, timeout_s: float) -> bool:
        """Block until subscribed to the broker or ``timeout_s`` passes (for tests and start-up)."""
        return self._connected.wait(timeout_s)

    def start(self) -> None:
        """Connect in the background; returns at once. Reconnects until :meth:`stop`."""
        settings = self._settings
        v5 = settings.mqtt_protocol == "5"
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=settings.mqtt_client_id,
            # MQTT 3.1.1: a persistent session is "clean session" off; v5 uses clean_start.
            clean_session=None if v5 else settings.mqtt_session_expiry_s == 0,
            protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
            reconnect_on_failure=True,
            manual_ack=True,
        )
        if settings.mqtt_username is not None:
            password = settings.mqtt_password
            client.username_pw_set(
                settings.mqtt_username,
                password.get_secret_value() if password is not None else None,
            )
        if settings.mqtt_tls_ca_file is not None:
            client.tls_set(
                ca_certs=str(settings.mqtt_tls_ca_file),
                certfile=str(settings.mqtt_tls_cert_file) if settings.mqtt_tls_cert_file else None,
                keyfile=str(settings.mqtt_tls_key_file) if settings.mqtt_tls_key_file else None,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        client.reconnect_delay_set(min_delay=1, max_delay=settings.mqtt_reconnect_max_s)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        self._client = client
        self._stopping.clear()
        logger.info(
            "MQTT ingest connecting to %s:%d as %s (MQTT %s%s, session expiry %d s)",
            settings.mqtt_host,
            settings.mqtt_port,
            settings.mqtt_client_id,
            settings.mqtt_protocol,
            " over TLS" if settings.mqtt_tls_ca_file is not None else "",
            settings.mqtt_session_expiry_s,
        )
        if v5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = settings.mqtt_session_expiry_s
            client.connect_async(
                settings.mqtt_host,
                settings.mqtt_port,
                keepalive=settings.mqtt_keepalive_s,
                clean_start=settings.mqtt_session_expiry_s == 0,
                properties=properties,
            )
        else:
            client.connect_async(
                settings.mqtt_host, settings.mqtt_port, keepalive=settings.mqtt_keepalive_s
            )
        client.loop_start()

    def stop(self) -> None:
        """Disconnect and join paho's thread; a message being retried stays unacknowledged."""
        client = self._client
        if client is None:
            return
        self._stopping.set()
        self._client = None
        client.disconnect()
        client.loop_stop()
        self._connected.clear()
        logger.info("MQTT ingest stopped")

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: Any,
        flags: Any,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            logger.error(
                "MQTT broker %s:%d refused the connection: %s",
                self._settings.mqtt_host,
                self._settings.mqtt_port,
                reason_code,
            )
            return
        logger.info(
            "MQTT ingest connected (%s session)",
            "resumed" if getattr(flags, "session_present", False) else "new",
        )
        client.subscribe(
            [
                (EVIDENCE_SUBSCRIPTION, 1),
                (EVENTS_SUBSCRIPTION, 1),
                (CHAIN_SUBSCRIPTION, 1),
                (AVAILABILITY_SUBSCRIPTION, 1),
            ]
        )

    def _on_subscribe(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _mid: int,
        reason_codes: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        failed = [str(code) for code in reason_codes if code.is_failure]
        if failed:
            logger.error("MQTT subscription refused: %s", ", ".join(failed))
            return
        logger.info(
            "MQTT ingest subscribed on %s:%d", self._settings.mqtt_host, self._settings.mqtt_port
        )
        self._connected.set()

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: Any,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        self._connected.clear()
        if self._client is not None:
            logger.warning(
                "MQTT ingest disconnected from %s:%d (%s); reconnecting",
                self._settings.mqtt_host,
                self._settings.mqtt_port,
                reason_code,
            )

    def _ingest(self, topic: str, payload: bytes, properties: Properties | None) -> bool:
        """Dispatch until the outcome is final; ``True`` when the message may be acknowledged."""
        attempt = 0
        while True:
            outcome = dispatch(
                self._session_factory,
                topic,
                payload,
                properties,
                context=self._context,
                metrics=self._metrics,
                now=utcnow(),
            )
            if outcome.code not in TRANSIENT_CODES:
                return True
            attempt += 1
            if outcome.code != "db_unavailable" and attempt >= UNEXPECTED_ATTEMPTS:
                try:
                    path = write_dead_letter(
                        self._settings.dead_letter_dir, topic, payload, outcome
                    )
                except OSError:
                    logger.exception("cannot dead-letter %s; it stays unacknowledged", topic)
                    return False
                logger.error(
                    "message on %s failed %d times (%s); copied to %s and acknowledged",
                    topic[:200],
                    attempt,
                    outcome.code,
                    path,
                )
                return True
            delay = min(0.25 * 2**attempt, 5.0)
            if self._stopping.wait(delay):
                logger.warning("stopping with %s unacknowledged; the broker keeps it", topic)
                return False

    def _on_message(self, client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:
            logger.warning("rejected MQTT message with a topic that is not UTF-8")
            self._metrics.record(IngestOutcome(topic="?", accepted=False, code="bad_topic"))
            client.ack(message.mid, message.qos)
            return
        if self._ingest(topic, bytes(message.payload), getattr(message, "properties", None)):
            # PUBACK only now: the transaction (and any evidence file) is durable.
            client.ack(message.mid, message.qos)
