"""The chain record contract: canonical hashing, signatures and the offline verifier."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts.chain import (
    GENESIS_HASH,
    ChainError,
    ChainRecord,
    SignedChainRecord,
    canonical_json,
    event_digest,
    key_id_of,
    public_key_from_text,
    public_key_to_text,
    sign_record,
    verify_records,
)
from contracts.events import ZoneEvent
from tests.contracts.chain_builders import T0, Signer, evidence_ref, fake_jpeg, make_event


def _chain(n: int, signer: Signer | None = None) -> tuple[Signer, list[SignedChainRecord]]:
    signer = signer or Signer()
    return signer, [signer.record(make_event()) for _ in range(n)]


def _errors(findings: list[Any]) -> list[str]:
    return [f"{f.where}: {f.what}" for f in findings if f.severity == "error"]


def test_a_signed_record_round_trips_and_verifies() -> None:
    signer = Signer()
    event = make_event(evidence=[evidence_ref(fake_jpeg(1))])
    signed = signer.record(event)
    parsed = SignedChainRecord.from_json(signed.to_json())
    assert parsed == signed
    assert parsed.hash == parsed.record.digest()
    assert parsed.record.event_sha256 == event_digest(event)
    assert parsed.record.evidence_sha256 == [event.evidence[0].sha256]
    assert parsed.problems(signer.key.public_key()) == []


def test_the_signed_bytes_do_not_depend_on_the_time_zone_given() -> None:
    signer = Signer()
    event = make_event()
    shanghai = timezone(timedelta(hours=8))
    utc = signer.record(event, advance=False, recorded_at=T0)
    local = signer.record(event, advance=False, recorded_at=T0.astimezone(shanghai))
    assert utc.hash == local.hash
    assert b'"recorded_at":"2024-05-01T08:00:00.000000Z"' in utc.record.canonical()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"seq": 2}, "genesis hash exactly when seq is 1"),
        ({"prev_hash": "1" * 64}, "genesis hash exactly when seq is 1"),
        ({"event_sha256": None}, "needs event_id, phase and event_sha256"),
        ({"dropped_sha256": ["a" * 64]}, "cannot list dropped evidence"),
        ({"kind": "drop"}, "names no event"),
        ({"kind": "clip", "evidence_sha256": ["c" * 64]}, "fixes no event message"),
        ({"kind": "clip", "evidence_sha256": []}, "exactly one evidence_sha256"),
        ({"kind": "clip", "event_id": None, "phase": None, "event_sha256": None}, "needs event_id"),
        ({"seq": 0}, "greater than or equal to 1"),
        ({"key_id": "XYZ"}, "should match pattern"),
        ({"recorded_at": datetime(2024, 5, 1, 8)}, "timezone"),
        ({"unexpected": 1}, "Extra inputs are not permitted"),
    ],
)
def test_malformed_records_are_refused(overrides: dict[str, Any], message: str) -> None:
    signer = Signer()
    with pytest.raises(ValidationError, match=message):
        signer.record(make_event(), **overrides)


@pytest.mark.parametrize(
    "field",
    ["event_sha256", "evidence_sha256", "seq_and_prev", "recorded_at", "phase"],
)
def test_any_changed_field_breaks_hash_and_signature(field: str) -> None:
    signer = Signer()
    signer.record(make_event())
    signed = signer.record(make_event(evidence=[evidence_ref(fake_jpeg(2))]))
    data = signed.record.model_dump()
    if field == "event_sha256":
        data["event_sha256"] = "f" * 64
    elif field == "evidence_sha256":
        data["evidence_sha256"] = ["e" * 64]
    elif field == "seq_and_prev":
        data["seq"] = 7
    elif field == "recorded_at":
        data["recorded_at"] = signed.record.recorded_at + timedelta(microseconds=1)
    else:
        data["phase"] = "end"
    forged = SignedChainRecord(
        record=ChainRecord.model_validate(data), hash=signed.hash, signature=signed.signature
    )
    problems = forged.problems(signer.key.public_key())
    assert any("content hashes to" in p for p in problems)
    assert any("signature does not verify" in p for p in problems)
    # Re-hashing the forgery does not help: only the key can sign.
    rehashed = forged.model_copy(update={"hash": forged.record.digest()})
    assert rehashed.problems(signer.key.public_key()) == [
        f"signature does not verify with key {signer.key_id}"
    ]


def test_a_record_signed_with_another_key_is_named() -> None:
    signer, impostor = Signer(), Signer()
    forged = impostor.record(make_event(), key_id=impostor.key_id)
    assert forged.problems(signer.key.public_key()) == [
        f"the key given is {signer.key_id}, not {impostor.key_id}"
    ]
    assert forged.problems(None) == [f"no public key {impostor.key_id} is known for edge-1"]


def test_signing_with_the_wrong_key_is_refused() -> None:
    signer = Signer()
    record = signer.record(make_event(), advance=False).record
    with pytest.raises(ChainError, match="signing key is"):
        sign_record(record, Ed25519PrivateKey.generate())


def test_verify_records_accepts_an_intact_chain_in_any_order() -> None:
    signer, records = _chain(5)
    keys = {signer.key_id: signer.key.public_key()}
    assert verify_records(list(reversed(records)), keys) == []
    assert verify_records([], keys) == []


def test_verify_records_names_gaps_forks_links_and_keys() -> None:
    signer, records = _chain(6)
    keys = {signer.key_id: signer.key.public_key()}
    # gap: 3 and 4 removed
    gap = [r for r in records if r.record.seq not in (3, 4)]
    assert _errors(verify_records(gap, keys)) == ["seq 3..4: missing (gap in the chain)"]
    # fork: a second, validly signed record 6
    fork = Signer(key=signer.key, seq=5, head=records[4].hash).record(make_event())
    errors = _errors(verify_records([*records, fork], keys))
    assert len(errors) == 1 and errors[0].startswith("edge-1 seq 6: fork: 2 different records")
    # broken link: record 3 re-signed with another prev_hash
    relinked = Signer(key=signer.key, seq=2, head="9" * 64).record(make_event())
    chain = [relinked if r.record.seq == 3 else r for r in records]
    errors = _errors(verify_records(chain, keys))
    assert errors[0].startswith(f"edge-1 seq 3: prev_hash {'9' * 64} does not match")
    assert errors[1].startswith("edge-1 seq 4: prev_hash")  # 4 linked to the original 3
    # unknown key
    assert _errors(verify_records(records[:1], {})) == [
        f"edge-1 seq 1: no public key {signer.key_id} is known for edge-1"
    ]


def test_a_segment_is_a_notice_only_when_it_may_be_partial() -> None:
    signer, records = _chain(4)
    keys = {signer.key_id: signer.key.public_key()}
    findings = verify_records(records[2:], keys, complete=False)
    assert [f.severity for f in findings] == ["notice"]
    assert _errors(verify_records(records[2:], keys)) == ["seq 3: records 1..2 are not included"]


def test_records_of_two_edges_are_not_one_chain() -> None:
    a, b = Signer(edge_id="edge-a"), Signer(edge_id="edge-b")
    keys = {a.key_id: a.key.public_key(), b.key_id: b.key.public_key()}
    errors = _errors(
        verify_records(
            [a.record(make_event(edge_id="edge-a")), b.record(make_event(edge_id="edge-b"))], keys
        )
    )
    assert errors[0] == "records: records of several edges: ['edge-a', 'edge-b']"


def test_public_keys_parse_from_pem_and_base64_only() -> None:
    key = Ed25519PrivateKey.generate().public_key()
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    assert key_id_of(public_key_from_text(pem)) == key_id_of(key)
    assert key_id_of(public_key_from_text(public_key_to_text(key))) == key_id_of(key)
    rsa_pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=1024)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    with pytest.raises(ChainError, match="not Ed25519"):
        public_key_from_text(rsa_pem)
    with pytest.raises(ChainError, match="neither PEM nor base64"):
        public_key_from_text("not a key!")
    with pytest.raises(ChainError, match="must be 32 bytes"):
        public_key_from_text(base64.b64encode(b"short").decode())
    with pytest.raises(ChainError, match="not a PEM public key"):
        public_key_from_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----")


def test_genesis_and_canonical_json() -> None:
    assert GENESIS_HASH == "0" * 64
    assert canonical_json({"b": 1, "a": [1.5, "é"]}) == b'{"a":[1.5,"\\u00e9"],"b":1}'


@settings(max_examples=200, deadline=None)
@given(
    confidence=st.floats(min_value=0, max_value=1),
    dwell=st.floats(min_value=0, max_value=1e6, allow_nan=False),
    micro=st.integers(min_value=0, max_value=999_999),
    offset_h=st.integers(min_value=-12, max_value=14),
    details=st.dictionaries(
        st.text(min_size=1, max_size=8),
        st.one_of(
            st.integers(-(2**53), 2**53),
            st.floats(allow_nan=False, allow_infinity=False),
            st.text(max_size=20),
        ),
        max_size=4,
    ),
)
def test_event_digest_survives_the_wire(
    confidence: float, dwell: float, micro: int, offset_h: int, details: dict[str, Any]
) -> None:
    """The edge hashes its object, the server the parsed wire bytes: they must agree."""
    tz = timezone(timedelta(hours=offset_h))
    event = make_event().model_copy(
        update={
            "confidence": confidence,
            "dwell_s": dwell,
            "sent_at": datetime(2024, 5, 1, 8, 0, 0, micro, tzinfo=UTC).astimezone(tz),
            "details": details,
        }
    )
    wire = ZoneEvent.from_json(event.to_json())
    assert event_digest(wire) == event_digest(ZoneEvent.from_json(wire.to_json()))


def test_a_clip_record_fixes_one_clip_of_a_case() -> None:
    signer = Signer()
    event = make_event()
    first = signer.record(event)
    clip = signer.record(
        event, kind="clip", phase=None, event_sha256=None, evidence_sha256=["c" * 64]
    )
    assert clip.record.event_id == event.event_id and clip.record.evidence_sha256 == ["c" * 64]
    assert verify_records([first, clip], {signer.key_id: signer.key.public_key()}) == []
