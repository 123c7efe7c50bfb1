"""Chain records through the ingest handlers (SQLite and PostgreSQL, no broker)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from contracts import topics
from server import chain_store, crud
from server.ingest import IngestContext, IngestMetrics, IngestOutcome, dispatch
from server.state import ServerState
from server.tables import ChainIssue, ChainRecordRow
from tests.contracts.chain_builders import Signer, WireMessage, edge_messages
from tests.server import builders as b
from tests.server.conftest import NOW

Factory = sessionmaker[Session]


def send(
    factory: Factory, context: IngestContext, metrics: IngestMetrics, message: WireMessage
) -> IngestOutcome:
    return dispatch(
        factory,
        message.topic,
        message.payload,
        b.props(message.content_type),
        context=context,
        metrics=metrics,
        now=NOW,
    )


def send_all(
    factory: Factory, context: IngestContext, metrics: IngestMetrics, messages: list[WireMessage]
) -> list[IngestOutcome]:
    return [send(factory, context, metrics, m) for m in messages]


def register(factory: Factory, signer: Signer) -> int:
    pem = signer.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with factory() as session, session.begin():
        _, verified = chain_store.register_key(
            session, edge_id=signer.edge_id, public_key_text=pem.decode(), now=NOW
        )
    return verified


def chain_status(factory: Factory, event_id: str) -> tuple[str, list[str]]:
    with factory() as session:
        case = crud.get_case_by_event_id(session, event_id=event_id)
        assert case is not None
        full = crud.get_case(session, case_id=case.id)
        assert full is not None
        chain = chain_store.case_chain(session, case=full)
        # the queue's batched badge says what the case page's full chain says
        assert chain_store.case_statuses(session, [full]) == {full.id: chain.status}
        return chain.status, [f"{i.kind.value}@{i.seq}" for i in chain.issues]


def open_issues(factory: Factory) -> list[str]:
    with factory() as session:
        rows = session.scalars(
            select(ChainIssue).where(ChainIssue.resolved_at.is_(None)).order_by(ChainIssue.id)
        )
        return [f"{row.kind.value}@{row.seq}" for row in rows]


def test_a_signed_event_makes_a_verified_case_and_replays_change_nothing(
    session_factory: Factory, context: IngestContext, metrics: IngestMetrics
) -> None:
    signer = Signer()
    register(session_factory, signer)
    event, messages = edge_messages(signer, seed=1)
    outcomes = send_all(session_factory, context, metrics, messages)
    assert [o.code for o in outcomes] == ["evidence", "evidence", "event", "chain"]
    assert chain_status(session_factory, event.event_id) == ("verified", [])
    replay = send_all(session_factory, context, metrics, messages)
    assert [o.code for o in replay] == [
        "evidence_duplicate",
        "evidence_duplicate",
        "event_duplicate",
        "chain_duplicate",
    ]
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(ChainRecordRow)) == 1
    assert open_issues(session_factory) == []


def test_the_record_may_arrive_before_its_event(
    session_factory: Factory, context: IngestContext, metrics: IngestMetrics
) -> None:
    signer = Signer()
    register(session_factory, signer)
    event, messages = edge_messages(signer, seed=2)
    send_all(session_factory, context, metrics, messages[::-1])
    assert chain_status(session_factory, event.event_id) == ("verified", [])
    _update, more = edge_messages(signer, seed=3, phase="update", event_id=event.event_id)
    send_all(session_factory, context, metrics, more[:-1])  # update without its record yet
    assert chain_status(session_factory, event.event_id) == ("pending", [])
    send(session_factory, context, metrics, more[-1])
    assert chain_status(session_factory, event.event_id) == ("verified", [])


def test_records_of_an_unregistered_key_wait_and_verify_on_registration(
    session_factory: Factory, context: IngestContext, metrics: IngestMetrics
) -> None:
    signer = Signer()
    event, messages = edge_messages(signer, seed=4)
    outcomes = send_all(session_factory, context, metrics, messages)
    assert outcomes[-1].accepted and outcomes[-1].code == "chain_unverified"
    assert chain_status(session_factory, event.event_id) == ("flagged", ["unknown_key@1"])
    assert register(session_factory, signer) == 1
    assert chain_status(session_factory, event.event_id) == ("verified", [])
    assert open_issues(session_factory) == []


def test_a_forged_signature_is_refused_and_flags_the_case(
    session_factory: Factory, context: IngestContext, metrics: IngestMetrics
) -> None:
    signer = Signer()
    register(session_factory, signer)
    event, messages = edge_messages(signer, seed=5)
    send_all(session_factory, context, metrics, messages[:-1])
    genuine = messages[-1]
    forged_signature = bytearray(genuine.payload)
    index = forged_signature.index(b'"signature":"') + len(b'"signature":"')
    forged_signature[index] = ord("A") if forged_signature[index] != ord("A") else ord("B")
    outcome = send(
        session_factory,
        context,
        metrics,
        WireMessage(genuine.topic, bytes(forged_signature), genuine.content_type),
    )
    assert not outcome.accepted and outcome.code == "bad_signature"
    assert "signature does not verify" in outcome.detail
    assert chain_status(session_factory, event.event_id) == ("flagged", ["bad_signature@1"])
    # The genuine record still goes in; the forgery stays on the case as an open issue.
    assert send(session_factory, context, metrics, genuine).code == "chain"
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(ChainRecordRow)) == 1


def test_gaps_are_flagged_and_closed_when_the_record_arrives(
    session_factory: Factory, context: IngestContext, metrics: IngestMetrics
) -> None:
    signer = Signer()
    register(session_factory, signer)
    batches = [edge_messages(signer, seed=10 + i) for i in range(3)]
    send_all(session_factory, context, metrics, batches[0][1])
    send_all(session_factory, context, metrics, batches[2][1])  # record 2 is late
    assert open_issues(session_factory) == ["gap@3"]
    assert chain_status(session_factory, batches[2][0].event_id)[0] == "flagged"
    send_all(session_factory, context, metrics, batches[1][1])
    assert open_issues(session_factory) == []
    assert all(chain_status(session_factory, e.event_id)[0] == "verified" for e, _ in batches)


def test_a_fork_and_a_broken_link_are_flagged_on_both_cases(
    session_factory: Factory, context: IngestContext, metrics: IngestMetrics
) -> None:
    signer = Signer()
    register(session_factory, signer)
    first, m1 = edge_messages(signer, seed=20)
    second, m2 = edge_messages(signer, seed=21)
    send_all(session_factory, context, metrics, m1 + m2)
    # The same key signs a different record 2 (a reset or cloned edge).
    rogue = Signer(key=signer.key, seq=1, head="7" * 64)
    other, m3 = edge_messages(rogue, seed=22)
    outcomes = send_all(session_factory, context, metrics, m3)
    assert outcomes[-1].accepted and "fork at seq 2" in outcomes[-1].detail
    assert "broken link at seq 2" in outcomes[-1].detail
    assert chain_status(session_factory, second.event_id) == ("flagged", ["fork@2"])
    status, issues = chain_status(session_factory, other.event_id)
    assert status == "flagged" and sorted(issues) == ["broken_link@2", "fork@2"]
    assert chain_status(session_factory, first.event_id) == ("verified", [])


def _payload(message: WireMessage, **changes: Any) -> bytes:
    document = json.loads(message.payload)
    for path, value in changes.items():
        target = document
        *parents, leaf = path.split("__")
        for key in parents:
            target = target[key]
        target[leaf] = value
    return json.dumps(document).encode()


def test_malformed_records_are_rejected_with_a_reason(
    session_factory: Factory, context: IngestContext, metrics: IngestMetrics
) -> None:
    signer = Signer()
    register(session_factory, signer)
    _, messages = edge_messages(signer, seed=30)
    record = messages[-1]
    cases = {
        "bad_json": (record.topic, record.payload[:50]),
        "invalid_record": (record.topic, _payload(record, record__seq="one")),
        "topic_mismatch": (topics.chain_topic("edge-1", 9), record.payload),
        "hash_mismatch": (record.topic, _payload(record, record__phase="end")),
        "bad_topic": (record.topic.rsplit("/", 1)[0] + "/01", record.payload),
        "too_large": (record.topic, b" " * 200_000),
    }
    for code, (topic, payload) in cases.items():
        outcome = send(session_factory, context, metrics, WireMessage(topic, payload, "x"))
        assert (outcome.accepted, outcome.code) == (False, code), outcome
        assert outcome.detail
    other_edge = Signer(edge_id="edge-2", key=signer.key)  # edge-1's key claimed by edge-2
    _, stolen = edge_messages(other_edge, seed=31)
    outcome = send(session_factory, context, metrics, stolen[-1])
    assert outcome.code == "key_mismatch" and "registered to edge edge-1" in outcome.detail
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(ChainRecordRow)) == 0
    assert open_issues(session_factory) == ["bad_signature@1"]
    assert metrics.snapshot().accepted == {}


def test_the_api_shows_the_case_chain_and_the_edge_chain(client: TestClient) -> None:
    state: ServerState = client.app.state.civicwatch  # type: ignore[attr-defined]
    factory, metrics = state.session_factory, state.metrics
    context = IngestContext(store=state.store)
    signer = Signer(edge_id="edge-api")
    register(factory, signer)
    event, messages = edge_messages(signer, seed=40)
    send_all(factory, context, metrics, messages)
    listed = client.get("/api/v1/cases").json()
    detail = client.get(f"/api/v1/cases/{listed['items'][0]['id']}").json()
    assert detail["chain"]["status"] == "verified"
    assert detail["chain"]["records"][0]["seq"] == 1
    assert detail["chain"]["records"][0]["verified"] is True
    edge = client.get("/api/v1/edges/edge-api/chain").json()
    assert edge == {
        "edge_id": "edge-api",
        "keys": [signer.key_id],
        "records": 1,
        "verified_records": 1,
        "head_seq": 1,
        "issues": [],
    }
    assert client.get("/api/v1/edges/nobody/chain").status_code == 404
    assert client.get("/api/v1/edges/..%2Fetc/chain").status_code in (404, 422)
    assert detail["event_id"] == event.event_id


def test_key_registration_is_idempotent_and_exclusive(session_factory: Factory) -> None:
    signer = Signer()
    assert register(session_factory, signer) == 0
    assert register(session_factory, signer) == 0
    pem = signer.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with session_factory() as session, pytest.raises(chain_store.KeyRegistrationError):
        chain_store.register_key(session, edge_id="edge-9", public_key_text=pem.decode(), now=NOW)
    with session_factory() as session, pytest.raises(chain_store.KeyRegistrationError):
        chain_store.register_key(session, edge_id="edge-9", public_key_text="junk", now=NOW)
