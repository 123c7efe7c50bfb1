"""Issue 17, High 1: a broker session take-over lost PUBACKed events.

Against a real Mosquitto closed by the generated accounts: another account's login with
the server's client id and a clean start cannot touch the server's persistent session
(client ids are bound to accounts); a session lost anyway (here wiped by the server's own
account) is an ERROR and a counter, and the edges re-send from their chains; a gap in an
edge's chain is asked for and filled.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from civicwatch.services import find_mosquitto
from tests.faults.harness import event_messages, wait_until
from tests.security.broker_support import SERVER, stack

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(find_mosquitto() is None, reason="mosquitto is not installed"),
]


@pytest.mark.parametrize("attacker", ["edge-b"])
def test_another_login_cannot_take_over_the_servers_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, attacker: str
) -> None:
    with stack(tmp_path, monkeypatch) as st:
        ingest = st.ingest()
        _outbox, chain, publisher = st.edge("edge-a")
        ingest.start()
        try:
            assert ingest.wait_connected(15)
            # the attack against a running server: it must not be kicked off the broker
            thief = st.closed.login(attacker, client_id=SERVER)
            time.sleep(1.0)
            assert ingest.connected, "a login with the server's client id kicked it off"
            thief.disconnect()
            thief.loop_stop()
            ingest.stop()  # the server is away; its session keeps what arrives
            publisher.start()
            event, messages = event_messages("edge-a", "queued")
            chain.enqueue(messages, [event])
            assert publisher.wait_until_drained(20), "the broker did not PUBACK the event"
            # the attack while the server is away: clean start with its client id
            thief = st.closed.login(attacker, client_id=SERVER, clean_start=True)
            thief.disconnect()
            thief.loop_stop()
            publisher.stop()
            ingest = st.ingest()
            ingest.start()
            wait_until(lambda: st.db.complete(1), 20, "the PUBACKed event as a case")
            assert st.db.stored_event_ids() == {event.event_id}
            assert ingest.status().sessions_lost == 0
        finally:
            publisher.stop()
            chain.close()
            ingest.stop()


def test_a_lost_session_is_loud_and_the_edges_resend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with stack(tmp_path, monkeypatch) as st:
        ingest = st.ingest()
        _outbox, chain, publisher = st.edge("edge-a")
        ingest.start()
        try:
            assert ingest.wait_connected(15)
            publisher.start()
            first, messages = event_messages("edge-a", "before")
            chain.enqueue(messages, [first])
            wait_until(lambda: st.db.complete(1), 20, "the first event")
            ingest.stop()
            lost, messages = event_messages("edge-a", "lost")
            chain.enqueue(messages, [lost])
            assert publisher.wait_until_drained(20), "the broker did not PUBACK the event"
            # the server's own account with a clean start (a second instance, a broker
            # restarted without persistence): the queued event is gone at the broker
            wiper = st.closed.login(SERVER, client_id=SERVER, clean_start=True)
            wiper.disconnect()
            wiper.loop_stop()
            caplog.set_level(logging.WARNING)
            ingest = st.ingest()
            ingest.start()
            wait_until(lambda: st.db.complete(2), 30, "the lost event, re-sent by the edge")
            assert st.db.stored_event_ids() == {first.event_id, lost.event_id}
            status = ingest.status()
            assert status.sessions_lost == 1 and status.resend_requests >= 1
            assert any(
                r.levelno == logging.ERROR and "has no session" in r.getMessage()
                for r in caplog.records
            ), "the lost session was not logged as an ERROR"
            assert st.db.verify("edge-a").ok
        finally:
            publisher.stop()
            chain.close()
            ingest.stop()


def test_a_gap_in_a_chain_is_asked_for_and_filled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with stack(tmp_path, monkeypatch) as st:
        ingest = st.ingest(gap_check_s=0.5)
        outbox, chain, publisher = st.edge("edge-a")
        sent = []
        for i in range(3):
            event, messages = event_messages("edge-a", f"gap-{i}")
            before = {m.id for m in outbox.pending(limit=10_000)}
            chain.enqueue(messages, [event])
            sent.append(event.event_id)
            if i == 1:  # acknowledged somewhere and lost on the way to the server
                for message in outbox.pending(limit=10_000):
                    if message.id not in before:
                        outbox.ack(message.id)
        ingest.start()
        try:
            assert ingest.wait_connected(15)
            publisher.start()
            wait_until(lambda: st.db.complete(3), 30, "the missing record, re-sent")
            assert st.db.stored_event_ids() == set(sent)
            wait_until(lambda: st.db.counts().open_issues == 0, 10, "the gap to close")
            assert st.db.verify("edge-a").ok
        finally:
            publisher.stop()
            chain.close()
            ingest.stop()
