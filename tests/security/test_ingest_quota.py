"""Issue 17: floods, a case that grows without bound, huge images, events from the future.

Every attack goes over a real Mosquitto into the real server's MQTT ingest.
"""

from __future__ import annotations

import hashlib
import logging
import struct
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from contracts import topics
from tests.contracts.chain_builders import Signer, WireMessage, edge_messages, make_event
from tests.security.ingest_support import event_message, record_message, trust_server
from tests.server import builders as b


def test_a_flood_of_anonymous_events_does_not_push_real_cases_off_the_page(
    mqtt_broker: Any, tmp_path: Path
) -> None:
    limits = {
        "edge_event_burst": 100,
        "edge_event_rate_per_s": 1.0,
        "quarantine_max_per_edge": 200,
    }
    with trust_server(tmp_path, mqtt_broker, **limits) as wire:
        edge = Signer(edge_id="edge-a")
        wire.register(edge)
        real, messages = edge_messages(edge, seed="real")
        wire.send(messages)
        flood = [event_message(make_event(edge_id="edge-x")) for _ in range(1000)]
        wire.send(flood, timeout_s=120)
        first_page = wire.cases(limit=50)
        assert first_page["total"] == 1
        assert [item["event_id"] for item in first_page["items"]] == [real.event_id]
        # Over the rate they wait; past the edge's quarantine cap they are refused, counted.
        assert wire.rejected("rate_limited") >= 750
        waiting = wire.api.get("/api/v1/quarantine").json()["total"]
        assert waiting <= 200


def test_a_burst_over_the_rate_from_a_real_edge_loses_nothing(
    mqtt_broker: Any, tmp_path: Path
) -> None:
    """An edge flushing its outbox after an outage: every event becomes a case, in time."""
    limits = {"edge_event_burst": 5, "edge_event_rate_per_s": 5.0}
    with trust_server(tmp_path, mqtt_broker, **limits) as wire:
        edge = Signer(edge_id="edge-a")
        wire.register(edge)
        sent = []
        for n in range(30):
            event, messages = edge_messages(edge, seed=f"burst-{n}", n_evidence=1)
            wire.send(messages)
            sent.append(event.event_id)
        deadline = time.monotonic() + 60
        while wire.cases(limit=100)["total"] < len(sent):
            assert time.monotonic() < deadline, wire.api.get("/api/v1/quarantine").json()
            time.sleep(0.2)
        assert {item["event_id"] for item in wire.cases(limit=100)["items"]} == set(sent)
        assert wire.rejected("rate_limited") == 0
        assert wire.api.get("/api/v1/quarantine").json()["total"] == 0
        # The holds stay visible as the audit: why they waited, and that they were let in.
        held = wire.api.get("/api/v1/quarantine", params={"waiting": False, "limit": 50}).json()
        over_rate = [item for item in held["items"] if item["reason"].startswith("rate_limited")]
        assert len(over_rate) >= 20, held
        assert {item["outcome"] for item in over_rate} == {"admitted"}


def test_an_edge_over_its_rate_and_cap_is_refused_loudly(
    mqtt_broker: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    limits = {"edge_event_burst": 1, "edge_event_rate_per_s": 0.01, "quarantine_max_per_edge": 3}
    with trust_server(tmp_path, mqtt_broker, **limits) as wire:
        edge = Signer(edge_id="edge-capped")
        wire.register(edge)
        with caplog.at_level(logging.WARNING):
            for n in range(6):
                wire.send(edge_messages(edge, seed=f"cap-{n}", n_evidence=1)[1])
        assert wire.cases()["total"] == 1  # the burst
        waiting = wire.api.get("/api/v1/quarantine").json()
        assert waiting["total"] == 3
        assert all(item["reason"].startswith("rate_limited") for item in waiting["items"])
        assert wire.rejected("rate_limited") == 2
        refused = [
            r.getMessage()
            for r in caplog.records
            if r.levelno == logging.WARNING and "rejected MQTT message" in r.getMessage()
        ]
        assert len(refused) == 2, refused
        assert all("edge-capped" in line and "rate_limited" in line for line in refused)


def test_the_cases_api_pages(mqtt_broker: Any, tmp_path: Path) -> None:
    with trust_server(tmp_path, mqtt_broker) as wire:
        edge = Signer(edge_id="edge-a")
        wire.register(edge)
        for n in range(5):
            wire.send(edge_messages(edge, seed=f"p{n}", n_evidence=1)[1])
        pages = [wire.cases(limit=2, offset=offset) for offset in (0, 2, 4)]
        assert [len(page["items"]) for page in pages] == [2, 2, 1]
        assert {page["total"] for page in pages} == {5}
        ids = [item["id"] for page in pages for item in page["items"]]
        assert len(set(ids)) == 5


def test_one_case_cannot_grow_without_bound(mqtt_broker: Any, tmp_path: Path) -> None:
    limits = {"max_events_per_case": 5, "max_evidence_per_case": 4}
    with trust_server(tmp_path, mqtt_broker, **limits) as wire:
        edge = Signer(edge_id="edge-a")
        wire.register(edge)
        start, messages = edge_messages(edge, seed="grow", n_evidence=2)
        wire.send(messages)
        for n in range(1, 12):
            _, messages = edge_messages(
                edge, seed=f"grow-{n}", phase="update", event_id=start.event_id, n_evidence=2
            )
            wire.send(messages)
        _, messages = edge_messages(edge, seed="end", phase="end", event_id=start.event_id)
        wire.send(messages)
        case = wire.case_of(start.event_id)
        assert case is not None
        assert len(case["events"]) <= 6  # five, and the end
        assert len(case["evidence"]) <= 4
        assert case["phase"] == "end"
        # Each update arrives before its record: it waits, and stays out when it verifies.
        waiting = wire.api.get("/api/v1/quarantine", params={"limit": 50}).json()["items"]
        full = [item for item in waiting if "_per_case" in item["reason"]]
        assert len(full) >= 6, [item["reason"] for item in waiting]


def _huge_jpeg(width: int, height: int) -> bytes:
    """A real small JPEG whose frame header is rewritten to ``width`` x ``height``."""
    data = bytearray(b.jpeg(7))
    pos = 2
    while data[pos + 1] not in (0xC0, 0xC1, 0xC2):
        pos += 2 + struct.unpack(">H", data[pos + 2 : pos + 4])[0]
    data[pos + 5 : pos + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def test_a_huge_jpeg_is_refused_on_arrival(mqtt_broker: Any, tmp_path: Path) -> None:
    with trust_server(tmp_path, mqtt_broker) as wire:
        ok = b.jpeg(8, (640, 360))
        huge = _huge_jpeg(16000, 16000)
        messages = [
            WireMessage(
                topics.evidence_topic("edge-a", hashlib.sha256(data).hexdigest()),
                data,
                "image/jpeg",
            )
            for data in (ok, huge)
        ]
        wire.send(messages)
        assert wire.rejected("too_many_pixels") == 1
        for data, served in ((ok, 200), (huge, 404)):
            url = f"/api/v1/evidence/{hashlib.sha256(data).hexdigest()}"
            assert wire.api.get(url).status_code == served


def test_events_from_the_future_are_refused(mqtt_broker: Any, tmp_path: Path) -> None:
    with trust_server(tmp_path, mqtt_broker) as wire:
        edge = Signer(edge_id="edge-a")
        wire.register(edge)
        messages = []
        for year in (2099, 9999):
            when = datetime(year, 1, 1, tzinfo=UTC)
            event = make_event(edge_id="edge-a", event_id=uuid.uuid4().hex).model_copy(
                update={"first_seen": when, "last_seen": when, "sent_at": when}
            )
            messages += [event_message(event), record_message(edge.record(event))]
        wire.send(messages)
        assert wire.rejected("future_timestamp") == 2
        assert wire.cases()["total"] == 0
