"""Group commits: the committer's batches, one transaction per batch, the edge locks."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from contracts.events import EvidenceKind
from server import chain_store
from server.core.ingest_settings import IngestSettings
from server.evidence_store import EvidenceStore
from server.ingest import IngestContext, IngestLimits, IngestMetrics
from server.ingest.committer import GroupCommitter, Received
from server.ingest.dispatch import RawMessage, dispatch_batch
from server.ingest.edge_lock import edge_lock_key, lock_edges
from server.metrics import ServerMetrics
from server.tables import Case, ChainRecordRow, Evidence, QuarantinedEvent
from tests.contracts.chain_builders import Signer, edge_messages
from tests.server import builders as b

Factory = sessionmaker[Session]
NOW = datetime(2024, 5, 1, 9, 0, 0, tzinfo=UTC)


def received(edge_id: str, n: int) -> Received:
    return Received(
        topic=f"civicwatch/v1/edges/{edge_id}/events/cam-1",
        payload=str(n).encode(),
        properties=None,
        mid=n,
        qos=1,
        received_s=time.monotonic(),
    )


class Recorder:
    """A commit function that records its batches (and can hold the first one back)."""

    def __init__(self) -> None:
        self.batches: list[list[Received]] = []
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.release.set()

    def __call__(self, batch: list[Received]) -> None:
        self.release.wait(10)
        with self.lock:
            self.batches.append(batch)

    def mids(self) -> list[list[int]]:
        with self.lock:
            return [[item.mid for item in batch] for batch in self.batches]


def wait_for(check: object, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        time.sleep(0.01)
    raise AssertionError("timed out")


@pytest.mark.parametrize(
    ("batch_max", "expected"),
    [(128, [[0], list(range(1, 10))]), (4, [[0], [1, 2, 3, 4], [5, 6, 7, 8], [9]])],
)
def test_what_waits_while_a_batch_commits_is_the_next_batch(
    batch_max: int, expected: list[list[int]]
) -> None:
    recorder = Recorder()
    committer = GroupCommitter(
        settings=IngestSettings(batch_max=batch_max, committers=1), commit=recorder
    )
    recorder.release.clear()  # the first batch is "committing" while the rest arrive
    committer.start()
    try:
        assert committer.put(received("edge-1", 0))
        wait_for(lambda: committer.depth() == 0)
        for n in range(1, 10):
            assert committer.put(received("edge-1", n))
        assert committer.depth() == 9
        recorder.release.set()
        wait_for(lambda: sum(map(len, recorder.mids())) == 10)
    finally:
        committer.stop()
    assert recorder.mids() == expected


def test_an_edge_stays_on_one_committer_in_order() -> None:
    recorder = Recorder()
    committer = GroupCommitter(settings=IngestSettings(committers=3), commit=recorder)
    committer.start()
    try:
        for n in range(60):
            assert committer.put(received(f"edge-{n % 6}", n))
        wait_for(lambda: sum(map(len, recorder.mids())) == 60)
    finally:
        committer.stop()
    by_edge: dict[str, list[int]] = {}
    for batch in recorder.batches:
        edges = {item.topic.split("/")[3] for item in batch}
        assert len({edge_lock_key(edge) % 3 for edge in edges}) == 1  # one committer's edges
        for item in batch:
            by_edge.setdefault(item.topic.split("/")[3], []).append(item.mid)
    assert by_edge == {f"edge-{e}": list(range(e, 60, 6)) for e in range(6)}


def test_a_full_queue_holds_paho_back_until_stopping() -> None:
    recorder = Recorder()
    recorder.release.clear()
    committer = GroupCommitter(
        settings=IngestSettings(committers=1, batch_max=1, queue_max=1), commit=recorder
    )
    committer.start()
    try:
        assert committer.put(received("edge-1", 0))  # taken, committing (held)
        wait_for(lambda: committer.depth() == 0)
        assert committer.put(received("edge-1", 1))  # waits in the queue
        result: list[bool] = []
        thread = threading.Thread(target=lambda: result.append(committer.put(received("e", 2))))
        thread.start()
        time.sleep(0.5)
        assert result == []  # blocked: the broker keeps what the server cannot take
        committer._stopping.set()
        thread.join(5)
        assert result == [False]
    finally:
        recorder.release.set()
        committer.stop()


def _register(factory: Factory, signer: Signer) -> None:
    pem = signer.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with factory() as session, session.begin():
        chain_store.register_key(
            session, edge_id=signer.edge_id, public_key_text=pem.decode(), now=NOW
        )


def test_a_batch_is_one_transaction_and_events_skip_the_quarantine(
    session_factory: Factory, store: EvidenceStore
) -> None:
    context = IngestContext(store=store, limits=IngestLimits(max_clock_skew_s=10 * 365 * 86400.0))
    metrics = ServerMetrics()
    signer = Signer()
    _register(session_factory, signer)
    batch = [
        RawMessage(m.topic, m.payload, b.props(m.content_type))
        for seed in range(3)
        for m in edge_messages(signer, seed=seed)[1]
    ]
    outcomes = dispatch_batch(session_factory, batch, context=context, metrics=metrics, now=NOW)
    assert outcomes is not None
    assert [o.code for o in outcomes] == ["evidence", "evidence", "event", "chain"] * 3
    assert all(o.sent_at is not None for o in outcomes if o.code == "event")
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 3
        assert session.scalar(select(func.count()).select_from(QuarantinedEvent)) == 0
        assert session.scalar(select(func.count()).select_from(ChainRecordRow)) == 3
    assert metrics.snapshot().accepted == {"evidence": 6, "event": 3, "chain": 3}
    metrics.record_batch(len(batch), 0.02)
    (family,) = metrics.batch_messages.collect()
    samples = {s.name: s.value for s in family.samples}
    assert samples["civicwatch_ingest_batch_messages_count"] == 1
    assert samples["civicwatch_ingest_batch_messages_sum"] == len(batch)


def test_a_batch_with_a_refused_message_keeps_nothing(
    session_factory: Factory, context: IngestContext, metrics: IngestMetrics
) -> None:
    good = b.item(b.jpeg(1), EvidenceKind.ANNOTATED)
    batch = [
        RawMessage(b.evidence_topic(good), good.data, b.props("image/jpeg")),
        RawMessage(b.evidence_topic(good), b.jpeg(2), b.props("image/jpeg")),  # hash mismatch
    ]
    assert dispatch_batch(session_factory, batch, context=context, metrics=metrics, now=NOW) is None
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Evidence)) == 0
    assert metrics.snapshot().accepted == {}  # nothing counted: the caller goes one by one


def test_an_edge_lock_holds_off_another_transaction_of_that_edge_only(
    postgres_url: str, engine: Engine, session_factory: Factory
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("advisory locks are PostgreSQL's; SQLite serialises writers itself")
    with session_factory() as holder, holder.begin():
        lock_edges(holder, ["edge-a", "edge-b"])
        with session_factory() as other, other.begin():
            other.execute(text("SET LOCAL lock_timeout = '200ms'"))
            lock_edges(other, ["edge-c"])  # another edge: not held off
        with (
            session_factory() as other,
            pytest.raises(OperationalError, match="lock timeout"),
            other.begin(),
        ):
            other.execute(text("SET LOCAL lock_timeout = '200ms'"))
            lock_edges(other, ["edge-b"])


def test_deferred_sync_puts_the_files_in_place_at_the_end_of_the_block(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path / "evidence")
    first, second = b.jpeg(1), b.jpeg(2)
    with store.deferred_sync():
        path = store.write(b.sha(first), first)
        assert not path.exists()  # written under a temporary name, not yet fsynced
        assert len(list(path.parent.glob(".*.tmp"))) == 1
    assert store.read(b.sha(first)) == first
    assert not list(path.parent.glob(".*.tmp"))
    with pytest.raises(RuntimeError, match="batch failed"), store.deferred_sync():
        store.write(b.sha(second), second)
        raise RuntimeError("batch failed")
    assert store.read(b.sha(second)) == second  # settled anyway: a retry finds it durable
    with (
        store.deferred_sync(),
        pytest.raises(RuntimeError, match="already active"),
        store.deferred_sync(),
    ):
        pass


def test_what_waits_at_stop_is_dropped_for_the_broker_to_send_again() -> None:
    recorder = Recorder()
    recorder.release.clear()
    committer = GroupCommitter(settings=IngestSettings(committers=1, batch_max=1), commit=recorder)
    committer.start()
    assert committer.put(received("edge-1", 0))  # taken, committing (held)
    wait_for(lambda: committer.depth() == 0)
    for n in (1, 2):
        assert committer.put(received("edge-1", n))
    committer._stopping.set()  # what stop() does first: no batch is taken after this one
    recorder.release.set()
    committer.stop()
    assert recorder.mids() == [[0]]
    assert committer.depth() == 0  # 1 and 2 dropped, unacknowledged: the broker resends them
    committer.start()  # a new connection acknowledges nothing of the old one
    time.sleep(0.5)
    committer.stop()
    assert recorder.mids() == [[0]]
