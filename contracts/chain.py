"""The signed evidence chain (城管链): one hash-linked, Ed25519-signed record per edge message.

Every event an edge publishes is fixed, at the moment it is recorded, by a
:class:`ChainRecord` that carries the event's canonical sha256, the sha256 of each of
its evidence items, a per-edge sequence number and the hash of the previous record.
The record's hash is the sha256 of its canonical JSON (:func:`canonical_json`), and the
edge signs those canonical bytes with its Ed25519 key. Anyone holding the edge's public
key can then check, offline, that no record was altered (hash, signature), none was
removed or inserted (sequence, link) and that the event and evidence bytes are the ones
recorded (their sha256).

Evidence an edge deliberately discards (its outbox disk budget) is recorded as well, by
a ``drop`` record, so a missing file is explained rather than silently absent. An event
clip (an MP4 cut from the stream around a case start, written after the case's start
event went out and uploaded over HTTP) is fixed by a ``clip`` record naming the case's
event and the clip's sha256.

This module is pure (no I/O); :func:`verify_records` is the offline verifier used by
``civicwatch evidence verify``.

Example:
    >>> key = Ed25519PrivateKey.generate()  # doctest: +SKIP
    >>> signed = sign_record(record, key)  # doctest: +SKIP
    >>> verify_records([signed], {signed.record.key_id: key.public_key()})  # doctest: +SKIP
    []
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from pydantic import BaseModel, ConfigDict, Field, field_serializer, model_validator

from contracts.events import EventPhase, Identifier, Sha256, UtcDatetime, ZoneEvent

CHAIN_VERSION: Literal[1] = 1

GENESIS_HASH: Final[str] = "0" * 64
"""``prev_hash`` of an edge's first record (``seq`` 1)."""

KEY_ID_PATTERN: Final[str] = r"^[0-9a-f]{16}$"
_SIGNATURE_PATTERN: Final[str] = r"^[A-Za-z0-9+/]{86}==$"

KeyId = Annotated[str, Field(pattern=KEY_ID_PATTERN)]
"""The first 16 hex characters of the sha256 of a raw 32-byte Ed25519 public key."""


class ChainError(ValueError):
    """A chain record, key or signature is malformed or does not verify; says what and where."""


def canonical_json(document: Any) -> bytes:
    """The canonical encoding every hash in civicwatch is taken over.

    Keys sorted, no whitespace, ASCII only (``json.dumps`` defaults otherwise): the same
    bytes in every process that parsed the same wire message.

    Args:
        document: JSON-compatible data, or a pydantic model (dumped in JSON mode first).
    """
    if isinstance(document, BaseModel):
        document = document.model_dump(mode="json")
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("ascii")


def event_digest(event: ZoneEvent) -> str:
    """The sha256 of an event's canonical JSON (the server stores it as ``payload_sha256``)."""
    return hashlib.sha256(canonical_json(event)).hexdigest()


def key_id_of(public_key: Ed25519PublicKey) -> str:
    """A public key's id: the first 16 hex characters of the sha256 of its raw bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_key_to_text(public_key: Ed25519PublicKey) -> str:
    """The raw 32-byte public key in standard base64 (44 characters)."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def public_key_from_text(text: str) -> Ed25519PublicKey:
    """Parse a public key given as PEM (``SubjectPublicKeyInfo``) or raw base64.

    Raises:
        ChainError: Neither form, or not an Ed25519 key.
    """
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text.encode("ascii"))
        except (ValueError, UnicodeEncodeError) as exc:
            raise ChainError(f"not a PEM public key: {exc}") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise ChainError(f"PEM key is {type(key).__name__}, not Ed25519")
        return key
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ChainError("public key is neither PEM nor base64") from exc
    if len(raw) != 32:
        raise ChainError(f"raw Ed25519 public key must be 32 bytes, got {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=4096)


class ChainEntryKind(StrEnum):
    """What a chain record fixes."""

    EVENT = "event"  # one published ZoneEvent message and its evidence
    DROP = "drop"  # evidence the edge discarded before it was sent
    CLIP = "clip"  # an event clip (video/mp4) of a case, written after its start event


class DropReason(StrEnum):
    """Why an edge discarded evidence."""

    OUTBOX_BUDGET = "outbox_budget"  # the outbox reached its disk budget
    UNDELIVERABLE = "undeliverable"  # the broker can never take it (too large, refused)


class ChainRecord(_Wire):
    """One link of an edge's chain (version 1).

    Attributes:
        chain_version: Schema version of the record.
        edge_id: The edge whose chain this is.
        seq: 1 for the edge's first record, then +1 per record, no gaps.
        prev_hash: :meth:`digest` of record ``seq - 1``; :data:`GENESIS_HASH` for ``seq`` 1.
        kind: ``event``, ``drop`` or ``clip``.
        event_id: The event (``event`` records; the case's event for ``clip`` records).
        phase: The event message's phase (``event`` records).
        event_sha256: :func:`event_digest` of the published event message.
        evidence_sha256: sha256 of each evidence item the event lists, in its order (the
            clip's, alone, for ``clip`` records).
        dropped_sha256: Evidence discarded unsent (``drop`` records).
        drop_reason: Why it was discarded (``drop`` records).
        recorded_at: When the edge recorded it (UTC).
        key_id: Which of the edge's keys signs it (:func:`key_id_of`).
    """

    chain_version: Literal[1] = CHAIN_VERSION
    edge_id: Identifier
    seq: int = Field(ge=1, le=2**62)
    prev_hash: Sha256
    kind: ChainEntryKind
    event_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")] | None = None
    phase: EventPhase | None = None
    event_sha256: Sha256 | None = None
    evidence_sha256: list[Sha256] = Field(default_factory=list, max_length=32)
    dropped_sha256: list[Sha256] = Field(default_factory=list, max_length=1000)
    drop_reason: DropReason | None = None
    recorded_at: UtcDatetime
    key_id: KeyId

    @model_validator(mode="after")
    def _consistent(self) -> ChainRecord:
        if (self.seq == 1) != (self.prev_hash == GENESIS_HASH):
            raise ValueError("prev_hash is the genesis hash exactly when seq is 1")
        event_fields = (self.event_id, self.phase, self.event_sha256)
        if self.kind is ChainEntryKind.CLIP:
            if self.event_id is None or len(self.evidence_sha256) != 1:
                raise ValueError("a clip record needs event_id and exactly one evidence_sha256")
            if self.phase is not None or self.event_sha256 is not None:
                raise ValueError("a clip record fixes no event message (no phase, event_sha256)")
            if self.dropped_sha256 or self.drop_reason is not None:
                raise ValueError("a clip record cannot list dropped evidence")
        elif self.kind is ChainEntryKind.EVENT:
            if any(value is None for value in event_fields):
                raise ValueError("an event record needs event_id, phase and event_sha256")
            if self.dropped_sha256 or self.drop_reason is not None:
                raise ValueError("an event record cannot list dropped evidence")
        else:
            if any(value is not None for value in event_fields) or self.evidence_sha256:
                raise ValueError("a drop record names no event and no evidence_sha256")
            if not self.dropped_sha256 or self.drop_reason is None:
                raise ValueError("a drop record needs dropped_sha256 and drop_reason")
        return self

    @field_serializer("recorded_at")
    def _fixed_time_format(self, value: datetime) -> str:
        # Our own format (UTC, microseconds, "Z"), so the signed bytes never depend on
        # how a library version happens to render datetimes.
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def canonical(self) -> bytes:
        """The bytes that are hashed and signed."""
        return canonical_json(self)

    def digest(self) -> str:
        """The record's hash: sha256 of :meth:`canonical`."""
        return hashlib.sha256(self.canonical()).hexdigest()


class SignedChainRecord(_Wire):
    """A record as published on ``chain_topic``: the record, its hash and its signature.

    Attributes:
        record: The record.
        hash: ``record.digest()`` as the edge computed it.
        signature: Ed25519 signature of ``record.canonical()``, standard base64.
    """

    record: ChainRecord
    hash: Sha256
    signature: str = Field(pattern=_SIGNATURE_PATTERN)

    def to_json(self) -> bytes:
        return canonical_json(self)

    @classmethod
    def from_json(cls, payload: bytes | str) -> SignedChainRecord:
        """Parse and validate a wire payload; raises ``pydantic.ValidationError``."""
        return cls.model_validate_json(payload)

    def problems(self, public_key: Ed25519PublicKey | None) -> list[str]:
        """What is wrong with this record on its own (empty when hash and signature hold).

        Args:
            public_key: The key named by ``record.key_id``; ``None`` when it is unknown.
        """
        found: list[str] = []
        actual = self.record.digest()
        if actual != self.hash:
            found.append(f"content hashes to {actual}, the record says {self.hash}")
        if public_key is None:
            found.append(f"no public key {self.record.key_id} is known for {self.record.edge_id}")
        elif key_id_of(public_key) != self.record.key_id:
            found.append(f"the key given is {key_id_of(public_key)}, not {self.record.key_id}")
        else:
            try:
                public_key.verify(base64.b64decode(self.signature), self.record.canonical())
            except InvalidSignature:
                found.append(f"signature does not verify with key {self.record.key_id}")
        return found


def sign_record(record: ChainRecord, private_key: Ed25519PrivateKey) -> SignedChainRecord:
    """Hash and sign ``record``.

    Raises:
        ChainError: ``record.key_id`` is not the id of ``private_key``'s public key.
    """
    key_id = key_id_of(private_key.public_key())
    if record.key_id != key_id:
        raise ChainError(f"record names key {record.key_id}, signing key is {key_id}")
    signature = base64.b64encode(private_key.sign(record.canonical())).decode("ascii")
    return SignedChainRecord(record=record, hash=record.digest(), signature=signature)


@dataclass(frozen=True, slots=True)
class ChainFinding:
    """One thing the verifier found.

    Attributes:
        severity: ``error`` (does not verify) or ``notice`` (explained, not a failure).
        where: What it concerns, e.g. ``edge-1 seq 17`` or ``evidence 3f2a…``.
        what: What does not match, with expected and actual values.
    """

    severity: Literal["error", "notice"]
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.severity.upper()} {self.where}: {self.what}"


def _where(record: ChainRecord) -> str:
    return f"{record.edge_id} seq {record.seq}"


def verify_records(
    records: Iterable[SignedChainRecord],
    public_keys: Mapping[str, Ed25519PublicKey],
    *,
    complete: bool = True,
) -> list[ChainFinding]:
    """Check a run of one edge's records: hashes, signatures, sequence and links.

    Args:
        records: Records of one edge, in any order.
        public_keys: Trusted public keys by key id.
        complete: The records should be the whole chain from ``seq`` 1; when ``False``
            (a case package carries a segment) a start after 1 is only a notice.

    Returns:
        Findings in sequence order; no ``error`` findings means the run verifies.
    """
    by_seq: dict[int, list[SignedChainRecord]] = {}
    edges: set[str] = set()
    for signed in records:
        by_seq.setdefault(signed.record.seq, []).append(signed)
        edges.add(signed.record.edge_id)
    findings: list[ChainFinding] = []
    if len(edges) > 1:
        findings.append(
            ChainFinding("error", "records", f"records of several edges: {sorted(edges)}")
        )
    if not by_seq:
        return findings
    first, last = min(by_seq), max(by_seq)
    if first != 1:
        severity: Literal["error", "notice"] = "error" if complete else "notice"
        findings.append(
            ChainFinding(
                severity,
                f"seq {first}",
                f"records 1..{first - 1} are not included"
                + ("" if complete else " (a segment; its first link is not checked)"),
            )
        )
    previous: SignedChainRecord | None = None
    missing_from: int | None = None
    for seq in range(first, last + 1):
        versions = by_seq.get(seq, [])
        if not versions:
            missing_from = seq if missing_from is None else missing_from
            previous = None
            continue
        if missing_from is not None:
            span = str(missing_from) if missing_from == seq - 1 else f"{missing_from}..{seq - 1}"
            findings.append(ChainFinding("error", f"seq {span}", "missing (gap in the chain)"))
            missing_from = None
        distinct = {signed.hash: signed for signed in versions}
        if len(distinct) > 1:
            findings.append(
                ChainFinding(
                    "error",
                    _where(versions[0].record),
                    f"fork: {len(distinct)} different records with this seq "
                    f"({', '.join(sorted(h[:12] for h in distinct))})",
                )
            )
        current = versions[0]
        for signed in distinct.values():
            for problem in signed.problems(public_keys.get(signed.record.key_id)):
                findings.append(ChainFinding("error", _where(signed.record), problem))
        if previous is not None and current.record.prev_hash != previous.hash:
            findings.append(
                ChainFinding(
                    "error",
                    _where(current.record),
                    f"prev_hash {current.record.prev_hash} does not match the hash "
                    f"{previous.hash} of seq {previous.record.seq}",
                )
            )
        previous = current
    return findings


def sorted_by_seq(records: Sequence[SignedChainRecord]) -> list[SignedChainRecord]:
    """``records`` ordered by sequence number (stable for equal sequence numbers)."""
    return sorted(records, key=lambda signed: signed.record.seq)
