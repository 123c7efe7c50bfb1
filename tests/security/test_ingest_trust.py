"""Issue 17, High 2 and the chain-issue Medium: forged, replayed and altered events.

Every attack goes over a real Mosquitto into the real server's MQTT ingest; what the
reviewers would see is read through the HTTP API.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from server import quarantine
from server.core.db import utcnow
from tests.contracts.chain_builders import Signer, edge_messages, make_event
from tests.security.ingest_support import event_message, record_message, trust_server


def _quarantined(wire: Any) -> list[dict[str, Any]]:
    response = wire.api.get("/api/v1/quarantine", params={"limit": 200})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_forged_replayed_and_altered_events_wait_in_quarantine(
    mqtt_broker: Any, tmp_path: Path
) -> None:
    with trust_server(tmp_path, mqtt_broker) as wire:
        edge = Signer(edge_id="edge-a")
        wire.register(edge)
        genuine, messages = edge_messages(edge, seed="genuine")
        wire.send(messages)
        case = wire.case_of(genuine.event_id)
        assert case is not None and case["chain"]["status"] == "verified"

        forged = make_event(edge_id="edge-a")  # no chain record at all
        replay = genuine.model_copy(update={"event_id": uuid.uuid4().hex})  # new id, same body
        altered = genuine.model_copy(update={"label": "truck", "phase": "end"})  # no record
        wire.send([event_message(forged), event_message(replay), event_message(altered)])

        assert wire.case_of(forged.event_id) is None
        assert wire.case_of(replay.event_id) is None
        case = wire.case_of(genuine.event_id)
        assert case is not None
        assert (case["label"], case["phase"]) == ("stall", "start")
        assert len(case["events"]) == 1
        waiting = {item["event_id"]: item for item in _quarantined(wire)}
        assert {forged.event_id, replay.event_id, genuine.event_id} <= set(waiting)
        assert "no chain record" in waiting[forged.event_id]["reason"]
        assert wire.cases()["total"] == 1


def test_a_record_arriving_later_admits_the_waiting_event_and_old_ones_age_out(
    mqtt_broker: Any, tmp_path: Path
) -> None:
    with trust_server(tmp_path, mqtt_broker) as wire:
        edge = Signer(edge_id="edge-a")
        wire.register(edge)
        late = make_event(edge_id="edge-a")
        stale = make_event(edge_id="edge-a")
        wire.send([event_message(late), event_message(stale)])
        assert wire.case_of(late.event_id) is None
        assert len(_quarantined(wire)) == 2

        wire.send([record_message(edge.record(late))])  # the record after its event
        case = wire.case_of(late.event_id)
        assert case is not None and case["chain"]["status"] == "verified"
        waiting = _quarantined(wire)
        assert [item["event_id"] for item in waiting] == [stale.event_id]

        state = wire.state
        with state.session_factory() as session, session.begin():
            later = utcnow() + timedelta(seconds=state.settings.quarantine_max_age_s + 1)
            assert quarantine.expire(session, now=later, max_age_s=60) == 1
        assert _quarantined(wire) == []
        gone = wire.api.get("/api/v1/quarantine", params={"waiting": "false"}).json()["items"]
        outcomes = {item["event_id"]: (item["outcome"], item["reason"]) for item in gone}
        assert outcomes[stale.event_id][0] == "expired"
        assert "no chain record" in outcomes[stale.event_id][1]  # the reason is kept
        assert outcomes[late.event_id][0] == "admitted"


def test_a_case_cannot_show_another_edges_evidence(mqtt_broker: Any, tmp_path: Path) -> None:
    with trust_server(tmp_path, mqtt_broker) as wire:
        a, b = Signer(edge_id="edge-a"), Signer(edge_id="edge-b")
        wire.register(a)
        wire.register(b)
        genuine, messages = edge_messages(a, seed="a")
        wire.send(messages)
        # edge-b signs its own record for an event that lists edge-a's real image.
        stolen = make_event(edge_id="edge-b", evidence=list(genuine.evidence))
        wire.send([event_message(stolen), record_message(b.record(stolen))])
        assert wire.case_of(stolen.event_id) is None
        reasons = [item["reason"] for item in _quarantined(wire)]
        assert any("belongs to edge edge-a" in reason for reason in reasons), reasons


def test_another_edge_cannot_flag_a_case(mqtt_broker: Any, tmp_path: Path) -> None:
    with trust_server(tmp_path, mqtt_broker) as wire:
        a, b = Signer(edge_id="edge-a"), Signer(edge_id="edge-b")
        wire.register(a)
        wire.register(b)
        genuine, messages = edge_messages(a, seed="a")
        wire.send(messages)
        # edge-b's record 5 (a gap in edge-b's own chain) names edge-a's event id.
        b.seq, b.head = 4, "1" * 64
        bad = b.record(make_event(edge_id="edge-b", event_id=genuine.event_id))
        wire.send([record_message(bad)])
        case = wire.case_of(genuine.event_id)
        assert case is not None
        assert case["chain"]["status"] == "verified", case["chain"]
        assert case["chain_status"] == "verified"


def test_confirming_an_unverified_chain_needs_an_audited_override(
    mqtt_broker: Any, tmp_path: Path
) -> None:
    with trust_server(tmp_path, mqtt_broker) as wire:
        edge = Signer(edge_id="edge-a")
        wire.register(edge)
        edge.seq, edge.head = 2, "2" * 64  # records 1 and 2 never arrive: a gap before this one
        event, messages = edge_messages(edge, seed="gap")
        wire.send(messages)
        case = wire.case_of(event.event_id)
        assert case is not None and case["chain"]["status"] == "flagged"
        url = f"/api/v1/cases/{case['id']}/review"
        refused = wire.api.post(url, json={"verdict": "confirm"})
        assert refused.status_code == 409, refused.text
        assert wire.api.get(f"/api/v1/cases/{case['id']}").json()["status"] == "candidate"
        body = {"verdict": "confirm", "override_chain": True, "reason": "checked on site"}
        confirmed = wire.api.post(url, json=body)
        assert confirmed.status_code == 200, confirmed.text
        review = confirmed.json()["reviews"][-1]
        assert (review["chain_status"], review["chain_override"], review["reason"]) == (
            "flagged",
            True,
            "checked on site",
        )
