"""The edge's evidence chain in its outbox: atomic with the events, durable, signed, budgeted."""

from __future__ import annotations

import hashlib
import logging
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contracts import topics
from contracts.chain import (
    GENESIS_HASH,
    ChainEntryKind,
    ChainError,
    DropReason,
    SignedChainRecord,
    event_digest,
    verify_records,
)
from contracts.events import ZoneEvent
from contracts.resend import ResendReason, ResendRequest
from edge.chain import EdgeChain, EdgeKey
from edge.outbox import Outbox, PendingMessage
from edge.outbox_budget import EvidenceCandidate, OutboxBudgetConfig, select_drops
from edge.resend import resend
from tests.contracts.chain_builders import evidence_ref, fake_jpeg, make_event

NOW = datetime(2024, 5, 1, 9, 0, 0, tzinfo=UTC)
MIB = 1024 * 1024


def _messages(event: ZoneEvent, blobs: list[bytes]) -> list[PendingMessage]:
    out = [
        PendingMessage(
            topic=topics.evidence_topic(event.edge_id, ref.sha256),
            payload=blob,
            content_type="image/jpeg",
        )
        for ref, blob in zip(event.evidence, blobs, strict=True)
    ]
    out.append(
        PendingMessage(
            topic=topics.event_topic(event.edge_id, event.camera_id),
            payload=event.to_json(),
            content_type="application/json",
        )
    )
    return out


def _event_with_evidence(seed: int, size: int = 600) -> tuple[ZoneEvent, list[bytes]]:
    blobs = [fake_jpeg(f"{seed}-{i}", size) for i in range(2)]
    return make_event(evidence=[evidence_ref(b) for b in blobs]), blobs


def _chain_messages(outbox: Outbox) -> list[SignedChainRecord]:
    return [
        SignedChainRecord.from_json(m.payload)
        for m in outbox.pending(limit=10_000)
        if "/chain/" in m.topic
    ]


def test_enqueue_writes_events_evidence_and_signed_records_together(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.db")
    key = EdgeKey.generate()
    chain = EdgeChain(outbox, key, edge_id="edge-1")
    assert chain.head().seq == 0 and chain.head().hash == GENESIS_HASH
    first, first_blobs = _event_with_evidence(1)
    second, second_blobs = _event_with_evidence(2)
    records = chain.enqueue(
        _messages(first, first_blobs) + _messages(second, second_blobs), [first, second], now=NOW
    )
    assert [r.record.seq for r in records] == [1, 2]
    assert records[0].record.event_sha256 == event_digest(ZoneEvent.from_json(first.to_json()))
    assert records[1].record.evidence_sha256 == [ref.sha256 for ref in second.evidence]
    assert records[1].record.prev_hash == records[0].hash
    pending = outbox.pending()
    assert [m.topic.split("/")[4] for m in pending] == ["evidence"] * 2 + ["events"] + [
        "evidence"
    ] * 2 + ["events", "chain", "chain"]
    assert pending[-1].topic == topics.chain_topic("edge-1", 2)
    assert _chain_messages(outbox) == records
    assert verify_records(records, {key.key_id: key.public_key}) == []
    assert chain.records() == records


def test_sequence_and_link_survive_a_restart(tmp_path: Path) -> None:
    key = EdgeKey.generate()
    outbox = Outbox(tmp_path / "outbox.db")
    chain = EdgeChain(outbox, key, edge_id="edge-1")
    first = chain.enqueue([], [make_event()], now=NOW)
    chain.close()
    outbox.close()
    reopened = Outbox(tmp_path / "outbox.db")
    chain = EdgeChain(reopened, key, edge_id="edge-1")
    assert chain.head().seq == 1
    second = chain.enqueue([], [make_event()], now=NOW)
    assert second[0].record.seq == 2 and second[0].record.prev_hash == first[0].hash
    assert verify_records(first + second, {key.key_id: key.public_key}) == []


def test_a_failed_write_leaves_neither_event_nor_record(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.db")
    chain = EdgeChain(outbox, EdgeKey.generate(), edge_id="edge-1")
    chain.enqueue([], [make_event()], now=NOW)
    bad = PendingMessage(topic="t", payload=None, content_type="x")  # type: ignore[arg-type]
    with pytest.raises(Exception, match="NOT NULL"):
        chain.enqueue([bad], [make_event()], now=NOW)
    assert chain.head().seq == 1
    assert outbox.count() == 1
    assert chain.enqueue([], [make_event()], now=NOW)[0].record.seq == 2


def test_events_of_another_edge_are_refused(tmp_path: Path) -> None:
    chain = EdgeChain(Outbox(tmp_path / "o.db"), EdgeKey.generate(), edge_id="edge-1")
    with pytest.raises(ValueError, match="is from edge 'edge-2'"):
        chain.enqueue([], [make_event(edge_id="edge-2")])
    assert chain.head().seq == 0


def test_enqueue_from_many_threads_keeps_one_unbroken_chain(tmp_path: Path) -> None:
    import threading

    key = EdgeKey.generate()
    outbox = Outbox(tmp_path / "o.db")
    chain = EdgeChain(outbox, key, edge_id="edge-1")

    def work() -> None:
        for _ in range(25):
            chain.enqueue([], [make_event()])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    records = _chain_messages(outbox)
    assert sorted(r.record.seq for r in records) == list(range(1, 101))
    assert verify_records(records, {key.key_id: key.public_key}) == []


def test_keys_are_saved_private_and_load_back(tmp_path: Path) -> None:
    key = EdgeKey.generate()
    private, public = key.save(tmp_path / "keys", "edge-1")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert b"BEGIN PUBLIC KEY" in public.read_bytes()
    assert EdgeKey.load(private).key_id == key.key_id
    with pytest.raises(FileExistsError):
        key.save(tmp_path / "keys", "edge-1")
    with pytest.raises(ValueError, match="not a valid topic segment"):
        key.save(tmp_path / "keys", "../evil")


def test_bad_key_files_are_named(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ChainError, match="cannot read the chain key"):
        EdgeKey.load(tmp_path / "missing.key")
    junk = tmp_path / "junk.key"
    junk.write_text("hello")
    with pytest.raises(ChainError, match="not an unencrypted PEM private key"):
        EdgeKey.load(junk)
    private, public = EdgeKey.generate().save(tmp_path, "edge-1")
    with pytest.raises(ChainError, match="not an unencrypted PEM private key"):
        EdgeKey.load(public)
    private.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="edge.chain"):
        EdgeKey.load(private)
    assert "readable by group or others" in caplog.text


@pytest.mark.parametrize(
    ("sizes_kib", "usage_kib", "expected_ids"),
    [
        ({}, 0, []),  # empty outbox
        ({1: 100, 2: 100}, 1000, []),  # within the budget: nothing goes
        ({3: 300, 1: 300, 2: 300}, 1100, [1, 2]),  # oldest first until <= 750
        ({1: 50, 2: 50}, 5000, [1, 2]),  # evidence alone cannot fix it: all of it goes
    ],
)
def test_select_drops_oldest_first_to_low_water(
    sizes_kib: dict[int, int], usage_kib: int, expected_ids: list[int]
) -> None:
    config = OutboxBudgetConfig(max_bytes=MIB, warn_fraction=0.5, low_water_fraction=0.75)
    kib = MIB // 1024
    candidates = [
        EvidenceCandidate(outbox_id=i, sha256=f"{i:064x}", byte_size=size * kib)
        for i, size in sizes_kib.items()
    ]
    chosen = select_drops(candidates, usage_kib * kib, config)
    assert [c.outbox_id for c in chosen] == expected_ids


def test_budget_config_is_validated() -> None:
    with pytest.raises(ValueError, match="low_water_fraction must not be below warn_fraction"):
        OutboxBudgetConfig(max_bytes=MIB, warn_fraction=0.9, low_water_fraction=0.5)
    with pytest.raises(ValueError, match="greater than or equal to 1048576"):
        OutboxBudgetConfig(max_bytes=10)


def test_over_budget_the_oldest_evidence_is_dropped_after_a_warning_and_recorded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key = EdgeKey.generate()
    outbox = Outbox(tmp_path / "o.db")
    budget = OutboxBudgetConfig(max_bytes=MIB, warn_fraction=0.5, low_water_fraction=0.7)
    chain = EdgeChain(outbox, key, edge_id="edge-1", budget=budget)
    events = []
    with caplog.at_level(logging.WARNING, logger="edge.outbox_budget"):
        for seed in range(3):  # 3 x 2 x 100 kB = 600 kB: over the warning level only
            event, blobs = _event_with_evidence(seed, 100_000)
            events.append(event)
            chain.enqueue(_messages(event, blobs), [event], now=NOW)
        assert "of its 1.0 MiB budget" in caplog.text and "dropped unsent" not in caplog.text
        assert outbox.count() == 3 * 4
        for seed in range(3, 6):  # to 1.2 MB: the oldest evidence goes
            event, blobs = _event_with_evidence(seed, 100_000)
            events.append(event)
            chain.enqueue(_messages(event, blobs), [event], now=NOW)
    assert caplog.text.index("of its 1.0 MiB budget") < caplog.text.index("dropped unsent")
    records = _chain_messages(outbox)
    drops = [r for r in records if r.record.kind is ChainEntryKind.DROP]
    assert len(drops) == 1
    dropped = set(drops[0].record.dropped_sha256)
    oldest = [ref.sha256 for e in events[:3] for ref in e.evidence]
    assert dropped == set(oldest[: len(dropped)]) and len(dropped) >= 2
    remaining = {m.topic.rsplit("/", 1)[1] for m in outbox.pending(limit=1000)}
    assert not dropped & remaining
    # every event message and every chain record is still there
    assert sum("/events/" in m.topic for m in outbox.pending(limit=1000)) == 6
    assert sorted(r.record.seq for r in records) == list(range(1, 8))
    assert verify_records(records, {key.key_id: key.public_key}) == []
    usage = sum(len(m.payload) for m in outbox.pending(limit=1000))
    assert usage <= MIB * 0.7 + 10_000


def _resend_request(request_id: str, first: int, last: int | None) -> ResendRequest:
    return ResendRequest(
        request_id=request_id,
        edge_id="edge-1",
        from_seq=first,
        to_seq=last,
        reason=ResendReason.GAP,
        requested_at=NOW,
    )


def test_a_resend_request_queues_the_records_and_their_sent_messages_again(
    tmp_path: Path,
) -> None:
    outbox = Outbox(tmp_path / "outbox.db")
    chain = EdgeChain(outbox, EdgeKey.generate(), edge_id="edge-1")
    sent = []
    for seed in range(3):
        event, blobs = _event_with_evidence(seed)
        chain.enqueue(_messages(event, blobs), [event], now=NOW)
        sent.append(_messages(event, blobs))
    for message in outbox.pending(limit=100):
        outbox.ack(message.id)
    done = resend(chain, _resend_request("r-1", 2, 2))
    assert done is not None and (done.records, done.messages, done.not_kept) == (1, 3, 0)
    queued = outbox.pending(limit=100)
    assert [m.payload for m in queued[:3]] == [m.payload for m in sent[1]]
    assert [r.record.seq for r in _chain_messages(outbox)] == [2]
    assert resend(chain, _resend_request("r-1", 2, 2)) is None  # acted on once
    open_ended = resend(chain, _resend_request("r-2", 3, None))
    assert open_ended is not None and open_ended.records == 1
    beyond = resend(chain, _resend_request("r-3", 9, None))
    assert beyond is not None and (beyond.records, beyond.messages) == (0, 0)
    with pytest.raises(ValueError, match="for edge"):
        resend(chain, _resend_request("r-4", 1, 1).model_copy(update={"edge_id": "edge-2"}))
    chain.close()


def test_a_dead_lettered_message_gets_a_signed_drop_record(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.db")
    key = EdgeKey.generate()
    chain = EdgeChain(outbox, key, edge_id="edge-1")
    [message_id] = outbox.put_many([PendingMessage("t/x", b"huge", "image/jpeg")])
    drop = chain.dead_letter(message_id, "too large")
    assert drop is not None and drop.record.kind is ChainEntryKind.DROP
    assert drop.record.drop_reason is DropReason.UNDELIVERABLE
    assert drop.record.dropped_sha256 == [hashlib.sha256(b"huge").hexdigest()]
    assert drop.problems(key.public_key) == []
    assert chain.dead_letter(message_id, "again") is None
    assert [r.record.seq for r in _chain_messages(outbox)] == [1]
    chain.close()
