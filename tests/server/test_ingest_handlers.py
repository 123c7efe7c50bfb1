"""MQTT ingest handlers against a real database (SQLite file and PostgreSQL), no broker."""

from __future__ import annotations

import itertools
import json
import logging
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from paho.mqtt.properties import Properties
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from contracts.events import EvidenceKind, ZoneEvent
from server import chain_store, crud
from server.core.db import make_engine, make_session_factory, run_migrations
from server.evidence_store import EvidenceStore
from server.ingest import (
    IngestContext,
    IngestLimits,
    IngestMetrics,
    IngestOutcome,
    dispatch,
)
from server.schemas import case_detail
from server.tables import Case, CaseEvent, CaseEvidence, Edge, EdgeAvailability, Evidence
from tests.server import builders as b
from tests.server.conftest import NOW

Factory = sessionmaker[Session]


def send(
    factory: Factory,
    context: IngestContext,
    metrics: IngestMetrics,
    topic: str,
    payload: bytes,
    properties: Properties | None = None,
) -> IngestOutcome:
    return dispatch(factory, topic, payload, properties, context=context, metrics=metrics, now=NOW)


def send_event(
    factory: Factory, context: IngestContext, metrics: IngestMetrics, ev: ZoneEvent
) -> IngestOutcome:
    return send(
        factory, context, metrics, b.event_topic(ev), ev.to_json(), b.props("application/json")
    )


def send_item(
    factory: Factory, context: IngestContext, metrics: IngestMetrics, it: b.Item
) -> IngestOutcome:
    return send(
        factory, context, metrics, b.evidence_topic(it), it.data, b.props(it.ref.content_type)
    )


def case_state(factory: Factory, event_id: str) -> dict[str, Any]:
    """Everything about a case that ingest decides (not ids or receive times)."""
    with factory() as session:
        case = crud.get_case_by_event_id(session, event_id=event_id)
        assert case is not None, f"no case for {event_id}"
        full = crud.get_case(session, case_id=case.id)
        assert full is not None
        detail = case_detail(full, chain_store.case_chain(session, case=full))
    state = detail.model_dump(
        exclude={"id", "event_id", "created_at", "updated_at", "events", "reviews"}
    )
    state["events"] = sorted((e.phase.value, e.sent_at.isoformat()) for e in detail.events)
    return state


def count(factory: Factory, table: type[Any]) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def test_start_creates_a_case_with_utc_times(
    session_factory: Factory, context: IngestContext, metrics: IngestMetrics
) -> None:
    ev = b.event(first_seen=b.T0.astimezone(timezone(timedelta(hours=8))))
    outcome = send_event(session_factory, context, metrics, ev)
    assert outcome.accepted and outcome.code == "event", outcome
    with session_factory() as session:
        case = session.scalars(select(Case)).one()
        assert case.event_id == ev.event_id
        assert case.status == "candidate" and case.phase == "start" and case.is_open
        assert case.first_seen == b.T0 and case.first_seen.utcoffset() == timedelta(0)
        assert case.last_seen == ev.last_seen
        assert (case.camera_id, case.zone_id, case.violation_type) == (
            "cam-1",
            "sidewalk-a",
            "street_stall",
        )
        assert case.model_sha256 == b.MODEL["sha256"]
        edge = session.get(Edge, "edge-1")
        assert edge is not None and edge.last_message_at == NOW
    assert metrics.snapshot().accepted == {"event": 1}


def test_replay_in_any_order_twice_gives_one_case_and_the_same_state(
    session_factory: Factory, context: IngestContext, metrics: IngestMetrics
) -> None:
    orders = list(itertools.permutations(["start", "update", "end"]))
    offsets = {"start": 0.0, "update": 10.0, "end": 20.0}
    for n, order in enumerate(orders):
        event_id = f"{n + 1:032x}"
        messages = [b.event(event_id=event_id, phase=p, seconds=offsets[p]) for p in order]
        outcomes = [send_event(session_factory, context, metrics, m) for m in messages * 2]
        assert all(o.accepted for o in outcomes), outcomes
        assert [o.code for o in outcomes[3:]] == ["event_duplicate"] * 3
        assert outcomes[0].code == "event"
    assert count(session_factory, Case) == len(orders)
    assert count(session_factory, CaseEvent) == 3 * len(orders)
    states = [case_state(session_factory, f"{n + 1:032x}") for n in range(len(orders))]
    for order, state in zip(orders[1:], states[1:], strict=True):
        assert state == states[0], f"order {order} gives a different case"
    final = states[0]
    end = b.event(phase="end", seconds=20.0)
    assert final["phase"] == "end" and final["open"] is False
    assert final["dwell_s"] == end.dwell_s
    assert final["last_seen"] == end.last_seen and final["first_seen"] == b.T0
    assert final["box"]["x2"] == pytest.approx(end.box.x2)
    assert final["confidence"] == pytest.approx(end.confidence)


def test_reformatted_replay_is_a_duplicate(
    session_factory: Factory, context: IngestContext, metrics: IngestMetrics
) -> None:
    ev = b.event()
    assert send_event(session_factory, context, metrics, ev).code == "event"
    pretty = json.dumps(json.loads(ev.to_json()), indent=2).encode()
    outcome = send(session_factory, context, metrics, b.event_topic(ev), pretty)
    assert outcome.accepted and outcome.code == "event_duplicate"
    assert count(session_factory, CaseEvent) == 1


def test_event_id_reused_by_another_camera_is_refused(
    session_factory: Factory,
    context: IngestContext,
    metrics: IngestMetrics,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ev = b.event()
    send_event(session_factory, context, metrics, ev)
    before = case_state(session_factory, ev.event_id)
    other = b.event(phase="update", seconds=5, camera_id="cam-2")
    with caplog.at_level(logging.WARNING, logger="server.ingest"):
        outcome = send_event(session_factory, context, metrics, other)
    assert not outcome.accepted and outcome.code == "event_conflict"
    assert "camera_id 'cam-1' != 'cam-2'" in outcome.detail
    assert case_state(session_factory, ev.event_id) == before
    assert any("event_conflict" in r.getMessage() for r in caplog.records)


def test_evidence_before_event_is_linked_when_the_event_arrives(
    session_factory: Factory,
    context: IngestContext,
    metrics: IngestMetrics,
    store: EvidenceStore,
) -> None:
    annotated = b.item(b.jpeg(1), EvidenceKind.ANNOTATED)
    crop = b.item(b.jpeg(2), EvidenceKind.CROP)
    for it in (annotated, crop):
        assert send_item(session_factory, context, metrics, it).code == "evidence"
        assert store.read(it.sha256) == it.data
    ev = b.event(evidence=[annotated.ref, crop.ref])
    assert send_event(session_factory, context, metrics, ev).code == "event"
    with session_factory() as session:
        case = crud.get_case_by_event_id(session, event_id=ev.event_id)
        assert case is not None
        full = crud.get_case(session, case_id=case.id)
        assert full is not None
        detail = case_detail(full, chain_store.case_chain(session, case=full))
    assert [(e.sha256, e.kind, e.available) for e in detail.evidence] == [
        (annotated.sha256, "annotated", True),
        (crop.sha256, "crop", True),
    ]
    assert detail.evidence[0].url == f"/api/v1/evidence/{annotated.sha256}"


def test_evidence_after_event_is_linked_when_it_arrives(
    session_factory: Factory, context: IngestContext, metrics: IngestMetrics
) -> None:
    frame = b.item(b.jpeg(3), EvidenceKind.FRAME)
    ev = b.event(evidence=[frame.ref])
    send_event(session_factory, context, metrics, ev)
    state = case_state(session_factory, ev.event_id)
    assert [(e["sha256"], e["available"]) for e in state["evidence"]] == [(frame.sha256, False)]
    assert send_item(session_factory, context, metrics, frame).code == "evidence"
    state = case_state(session_factory, ev.event_id)
    assert [(e["sha256"], e["available"]) for e in state["evidence"]] == [(frame.sha256, True)]
    # The same evidence named again by a later message is not linked twice.
    send_event(
        session_factory, context, metrics, b.event(phase="end", seconds=9, evidence=[frame.ref])
    )
    assert count(session_factory, CaseEvidence) == 1


def test_evidence_hash_mismatch_is_discarded_and_nothing_else_changes(
    session_factory: Factory,
    context: IngestContext,
    metrics: IngestMetrics,
    store: EvidenceStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    good = b.item(b.jpeg(4), EvidenceKind.CROP)
    send_item(session_factory, context, metrics, good)
    ev = b.event(evidence=[good.ref])
    send_event(session_factory, context, metrics, ev)
    expected = b.item(b.jpeg(5), EvidenceKind.ANNOTATED)
    tampered = bytearray(expected.data)
    tampered[len(tampered) // 2] ^= 0x01
    with caplog.at_level(logging.WARNING, logger="server.ingest"):
        outcome = send(
            session_factory,
            context,
            metrics,
            b.evidence_topic(expected),
            bytes(tampered),
            b.props("image/jpeg"),
        )
    assert not outcome.accepted and outcome.code == "hash_mismatch"
    assert expected.sha256 in outcome.detail
    assert not store.exists(expected.sha256)
    assert count(session_factory, Evidence) == 1
    assert store.read(good.sha256) == good.data
    line = next(r.getMessage() for r in caplog.records if "hash_mismatch" in r.getMessage())
    assert "edge edge-1" in line and b.evidence_topic(expected) in line
    # The genuine bytes still go through afterwards.
    assert send_item(session_factory, context, metrics, expected).code == "evidence"
    assert metrics.snapshot().rejected == {"hash_mismatch": 1}


def test_evidence_replay_is_a_duplicate(
    session_factory: Factory, context: IngestContext, metrics: IngestMetrics
) -> None:
    it = b.item(b.jpeg(6), EvidenceKind.FRAME)
    assert send_item(session_factory, context, metrics, it).code == "evidence"
    assert send_item(session_factory, context, metrics, it).code == "evidence_duplicate"
    assert count(session_factory, Evidence) == 1


def test_evidence_content_type_from_property_event_or_bytes(
    session_factory: Factory, context: IngestContext, metrics: IngestMetrics
) -> None:
    png = (
        b"\x89PNG\r\n\x1a\n"
        + b"\x00\x00\x00\rIHDR"
        + bytes([0, 0, 0, 32, 0, 0, 0, 24])
        + b"\x00" * 24
    )
    referenced = b.item(png, EvidenceKind.PLATE, "image/png")
    send_event(session_factory, context, metrics, b.event(evidence=[referenced.ref]))
    series = b.item(b'{"pm10": [51.0, 52.5]}', EvidenceKind.SENSOR_SERIES, "application/json")
    plain_jpeg = b.item(b.jpeg(7), EvidenceKind.FRAME)
    for it in (referenced, series, plain_jpeg):  # MQTT 3.1.1: no ContentType property
        outcome = send(session_factory, context, metrics, b.evidence_topic(it), it.data, None)
        assert outcome.code == "evidence", outcome
    with session_factory() as session:
        stored = {e.sha256: e.content_type for e in session.scalars(select(Evidence))}
    assert stored == {
        referenced.sha256: "image/png",
        series.sha256: "application/json",
        plain_jpeg.sha256: "image/jpeg",
    }


BAD_EVIDENCE = [
    # (name, payload, content type property, topic override, limits, expected code)
    ("empty", b"", "image/jpeg", None, None, "empty_payload"),
    ("unknown type", b"hello world", None, None, None, "no_content_type"),
    ("html", b"<html></html>", "text/html", None, None, "bad_content_type"),
    ("jpeg called png", None, "image/png", None, None, "content_mismatch"),
    ("text called json", b"not json", "application/json", None, None, "content_mismatch"),
    ("oversized", None, "image/jpeg", None, IngestLimits(max_evidence_bytes=100), "too_large"),
    ("uppercase hash", None, "image/jpeg", "upper", None, "bad_topic"),
    (
        "short hash",
        None,
        "image/jpeg",
        "civicwatch/v1/edges/edge-1/evidence/abcd",
        None,
        "bad_topic",
    ),
    (
        "deep topic",
        None,
        "image/jpeg",
        "civicwatch/v1/edges/edge-1/evidence/x/y",
        None,
        "bad_topic",
    ),
]


@pytest.mark.parametrize(
    ("name", "payload", "content_type", "topic", "limits", "code"),
    BAD_EVIDENCE,
    ids=[row[0] for row in BAD_EVIDENCE],
)
def test_bad_evidence_is_refused_with_a_reason(
    name: str,
    payload: bytes | None,
    content_type: str | None,
    topic: str | None,
    limits: IngestLimits | None,
    code: str,
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    run_migrations(engine)
    factory = make_session_factory(engine)
    store = EvidenceStore(tmp_path / "ev")
    context = IngestContext(store=store, limits=limits or b.UNCHAINED)
    data = payload if payload is not None else b.jpeg(8)
    digest = b.sha(data)
    if topic is None:
        topic = f"civicwatch/v1/edges/edge-1/evidence/{digest}"
    elif topic == "upper":
        topic = f"civicwatch/v1/edges/edge-1/evidence/{digest.upper()}"
    metrics = IngestMetrics()
    outcome = send(factory, context, metrics, topic, data, b.props(content_type))
    assert not outcome.accepted, name
    assert outcome.code == code, (name, outcome)
    assert outcome.detail
    assert count(factory, Evidence) == 0
    assert not store.root.exists() or not any(p.is_file() for p in store.root.rglob("*"))
    assert metrics.snapshot().rejected == {code: 1}


def _malformed_events() -> list[tuple[str, str, bytes, str]]:
    ev = b.event(event_id="f" * 32, phase="update", seconds=3)
    topic = b.event_topic(ev)
    good = b.as_dict(ev)
    raw = ev.to_json()

    def mutated(**changes: Any) -> bytes:
        data = dict(good)
        for key, value in changes.items():
            if value is KeyError:
                data.pop(key)
            else:
                data[key] = value
        return json.dumps(data).encode()

    huge = mutated(details={"note": "x" * 300_000})
    return [
        ("truncated json", topic, raw[: len(raw) // 2], "bad_json"),
        ("not utf-8", topic, b"\xff\xfe\x00garbage", "bad_json"),
        ("empty", topic, b"", "bad_json"),
        ("json array", topic, b"[1, 2]", "invalid_event"),
        ("wrong type", topic, mutated(confidence="high"), "invalid_event"),
        ("missing event_id", topic, mutated(event_id=KeyError), "invalid_event"),
        ("missing model", topic, mutated(model=KeyError), "invalid_event"),
        ("naive timestamp", topic, mutated(first_seen="2024-05-01T08:00:00"), "invalid_event"),
        ("unknown field", topic, mutated(extra_field=1), "invalid_event"),
        ("huge label", topic, mutated(label="x" * 10_000), "invalid_event"),
        ("huge payload", topic, huge, "too_large"),
        (
            "box outside 0..1",
            topic,
            mutated(box={"x1": 0, "y1": 0, "x2": 1.5, "y2": 1}),
            "invalid_event",
        ),
        ("last before first", topic, mutated(last_seen="2024-05-01T07:00:00Z"), "invalid_event"),
        ("bad event_id", topic, mutated(event_id="../../etc/passwd"), "invalid_event"),
        ("future schema", topic, mutated(schema_version=2), "invalid_event"),
        ("unknown violation", topic, mutated(violation_type="jaywalking"), "invalid_event"),
        ("wrong prefix", topic.replace("/v1/", "/v2/"), raw, "bad_topic"),
        ("extra segment", f"{topic}/x", raw, "bad_topic"),
        ("unknown kind", topic.replace("/events/", "/bogus/"), raw, "bad_topic"),
        ("bad segment", topic.replace("cam-1", "cam 1"), raw, "bad_topic"),
        ("edge mismatch", topic.replace("edge-1", "edge-2"), raw, "topic_mismatch"),
        ("camera mismatch", topic.replace("cam-1", "cam-9"), raw, "topic_mismatch"),
    ]


def test_malformed_events_are_refused_and_nothing_valid_is_lost(
    session_factory: Factory,
    context: IngestContext,
    metrics: IngestMetrics,
    caplog: pytest.LogCaptureFixture,
) -> None:
    it = b.item(b.jpeg(9), EvidenceKind.ANNOTATED)
    send_item(session_factory, context, metrics, it)
    ev = b.event(evidence=[it.ref])
    send_event(session_factory, context, metrics, ev)
    before = case_state(session_factory, ev.event_id)
    rows = _malformed_events()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="server.ingest"):
        for name, topic, payload, code in rows:
            outcome = send(session_factory, context, metrics, topic, payload)
            assert not outcome.accepted, name
            assert outcome.code == code, (name, outcome)
            assert outcome.detail, name
            line = caplog.records[-1].getMessage()
            assert code in line and topic[:200] in line, (name, line)
    assert len(caplog.records) == len(rows)
    assert count(session_factory, Case) == 1
    assert count(session_factory, CaseEvent) == 1
    assert case_state(session_factory, ev.event_id) == before
    rejected = metrics.snapshot().rejected
    assert sum(rejected.values()) == len(rows)
    assert rejected["bad_topic"] == 4 and rejected["topic_mismatch"] == 2
    # A valid message after all that still goes through.
    outcome = send_event(session_factory, context, metrics, b.event(phase="end", seconds=8))
    assert outcome.accepted and outcome.code == "event"


def test_availability_is_tracked(
    session_factory: Factory, context: IngestContext, metrics: IngestMetrics
) -> None:
    topic = "civicwatch/v1/edges/edge-7/availability"
    assert send(session_factory, context, metrics, topic, b"online").code == "availability"
    with session_factory() as session:
        edge = session.get(Edge, "edge-7")
        assert edge is not None and edge.availability == EdgeAvailability.ONLINE
    assert send(session_factory, context, metrics, topic, b"offline").accepted
    with session_factory() as session:
        edge = session.get(Edge, "edge-7")
        assert edge is not None and edge.availability == EdgeAvailability.OFFLINE
        assert edge.availability_at == NOW
    refused = [
        (topic, b"maybe", "bad_availability"),
        ("civicwatch/v1/edges/bad edge/availability", b"online", "bad_topic"),
        ("civicwatch/v1/edges/edge-7/bogus", b"online", "bad_topic"),
        ("elsewhere/v1/edges/edge-7/availability", b"online", "bad_topic"),
    ]
    for bad_topic, payload, code in refused:
        outcome = send(session_factory, context, metrics, bad_topic, payload)
        assert (outcome.accepted, outcome.code) == (False, code), bad_topic


def test_dispatch_survives_an_unreachable_database(
    tmp_path: Path, context: IngestContext, metrics: IngestMetrics
) -> None:
    factory = make_session_factory(make_engine(f"sqlite:///{tmp_path / 'absent.db'}"))
    # No migrations: every table is missing, as if the database were broken.
    outcome = send_event(factory, context, metrics, b.event())
    assert not outcome.accepted and outcome.code == "db_unavailable"
    assert metrics.snapshot().rejected == {"db_unavailable": 1}
