"""Issue 17, Medium: the broker's message limit was below the contract's, and a 9 MiB
evidence item wedged an edge's outbox forever.

One limit (:mod:`contracts.limits`) now sizes the broker (the configuration civicwatch
generates), the wire schema and the evidence the edge makes; a message that can never
be sent goes to the outbox's dead letter with a signed chain record and the queue moves
on. Against a real Mosquitto started with civicwatch's configuration and the real ingest.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from civicwatch.services import MosquittoProcess, find_mosquitto, start_mosquitto
from contracts import EvidenceKind, topics
from contracts.chain import ChainEntryKind, DropReason
from contracts.limits import MAX_EVIDENCE_BYTES, MAX_MESSAGE_BYTES
from edge.chain import EdgeChain, EdgeKey
from edge.evidence import EvidenceItem, EvidenceTooLargeError, encode_jpeg_within
from edge.mqtt import MqttConfig, Publisher
from edge.outbox import Outbox, PendingMessage
from tests.contracts.chain_builders import evidence_ref, make_event
from tests.faults.harness import Database, InProcessIngest, event_messages, wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(find_mosquitto() is None, reason="mosquitto is not installed"),
]


def _noise_jpeg(width: int, height: int, quality: int = 100) -> bytes:
    image = np.random.default_rng(width).integers(0, 256, (height, width, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return bytes(buf.tobytes())


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoProcess]:
    started = start_mosquitto(tmp_path / "mosquitto")
    yield started
    started.stop()


class _Edge:
    def __init__(self, directory: Path, db: Database, broker: MosquittoProcess) -> None:
        key = EdgeKey.generate()
        db.register("edge-big", key)
        self.outbox = Outbox(directory / "outbox.db")
        self.chain = EdgeChain(self.outbox, key, edge_id="edge-big")
        self.publisher = Publisher(
            edge_id="edge-big",
            config=MqttConfig(host=broker.host, port=broker.port, reconnect_max_s=1),
            outbox=self.outbox,
            chain=self.chain,
        )

    def close(self) -> None:
        self.publisher.stop()
        self.chain.close()
        self.outbox.close()


def test_a_9_mib_evidence_item_reaches_the_server(tmp_path: Path, broker: MosquittoProcess) -> None:
    db = Database(f"sqlite:///{tmp_path / 'cases.db'}", tmp_path / "evidence")
    ingest = InProcessIngest(db, broker, "size-server")
    edge = _Edge(tmp_path / "edge", db, broker)
    big = _noise_jpeg(2800, 1900)
    assert 9 * 1024 * 1024 <= len(big) <= MAX_EVIDENCE_BYTES
    event = make_event(edge_id="edge-big", evidence=[evidence_ref(big)])
    messages = [
        PendingMessage(
            topics.evidence_topic("edge-big", event.evidence[0].sha256), big, "image/jpeg"
        ),
        PendingMessage(
            topics.event_topic("edge-big", event.camera_id), event.to_json(), "application/json"
        ),
    ]
    try:
        ingest.start()
        edge.publisher.start()
        edge.chain.enqueue(messages, [event])
        assert edge.publisher.wait_until_drained(30), "the 9 MiB item wedged the outbox"
        wait_until(lambda: db.counts().evidence == 1, 30, "the 9 MiB evidence item stored")
        assert edge.publisher.stats.disconnects == 0
    finally:
        edge.close()
        ingest.stop()
        db.close()


def test_a_message_that_can_never_be_sent_is_dead_lettered_and_the_queue_moves_on(
    tmp_path: Path, broker: MosquittoProcess
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'cases.db'}", tmp_path / "evidence")
    ingest = InProcessIngest(db, broker, "size-server-2")
    edge = _Edge(tmp_path / "edge", db, broker)
    huge = b"\xff\xd8\xff" + bytes(MAX_MESSAGE_BYTES)  # one byte over and then some
    topic = topics.evidence_topic("edge-big", "0" * 64)
    try:
        ingest.start()
        edge.outbox.put_many([PendingMessage(topic, huge, "image/jpeg")])
        after, messages = event_messages("edge-big", "after-the-huge-one")
        edge.chain.enqueue(messages, [after])
        edge.publisher.start()
        assert edge.publisher.wait_until_drained(30), "the outbox is wedged"
        dead = edge.outbox.dead_letters()
        assert [(m.topic, len(m.payload)) for m, _ in dead] == [(topic, len(huge))]
        assert "message limit" in dead[0][1]
        drop = edge.chain.records()[-1].record
        assert drop.kind is ChainEntryKind.DROP and drop.drop_reason is DropReason.UNDELIVERABLE
        wait_until(lambda: db.complete(1), 30, "the event behind the huge message")
        wait_until(lambda: db.counts().verified_records == 2, 30, "the drop record")
        assert db.verify("edge-big").ok
    finally:
        edge.close()
        ingest.stop()
        db.close()


def test_evidence_is_made_within_the_contract_limit() -> None:
    now = datetime.now(UTC)
    with pytest.raises(EvidenceTooLargeError, match="MAX_EVIDENCE_BYTES"):
        EvidenceItem.create(EvidenceKind.FRAME, "image/jpeg", bytes(MAX_EVIDENCE_BYTES + 1), now)
    image = np.random.default_rng(1).integers(0, 256, (1200, 1600, 3), dtype=np.uint8)
    limit = 300_000
    assert len(_noise_jpeg(1600, 1200, 90)) > limit
    data = encode_jpeg_within(image, 90, limit)
    assert len(data) <= limit and cv2.imdecode(np.frombuffer(data, np.uint8), 1) is not None
