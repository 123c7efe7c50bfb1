from pathlib import Path

import pytest

from edge.outbox import Outbox, PendingMessage


def _msg(i: int) -> PendingMessage:
    return PendingMessage(topic=f"t/{i}", payload=f"p{i}".encode(), content_type="text/plain")


def test_empty_outbox(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    assert box.count() == 0
    assert box.pending() == []
    assert box.wait_for_new(0, 0.01) is False


def test_fifo_ack_and_survives_reopen(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    ids = box.put_many([_msg(i) for i in range(5)])
    assert ids == sorted(ids)
    box.ack(ids[1])
    box.close()
    reopened = Outbox(tmp_path / "o.db")
    pending = reopened.pending()
    assert [m.topic for m in pending] == ["t/0", "t/2", "t/3", "t/4"]
    assert pending[0].payload == b"p0"
    assert [m.topic for m in reopened.pending(after_id=ids[2], limit=1)] == ["t/3"]


def test_put_many_is_atomic(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    bad = PendingMessage(topic="t", payload=None, content_type="x")  # type: ignore[arg-type]
    with pytest.raises(Exception, match="NOT NULL"):
        box.put_many([_msg(0), bad])
    assert box.count() == 0


def test_acked_messages_are_kept_for_resending_within_the_budget(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", keep_sent_bytes=6)
    ids = box.put_many([_msg(i) for i in range(5)])  # 2 bytes each
    for message_id in ids:
        box.ack(message_id)
    assert box.count() == 0
    assert [m.topic for m in box.sent(ids)] == ["t/2", "t/3", "t/4"]  # oldest pruned
    box.close()
    reopened = Outbox(tmp_path / "o.db", keep_sent_bytes=6)
    assert [m.payload for m in reopened.sent(ids)] == [b"p2", b"p3", b"p4"]
    assert reopened.sent([]) == []


def test_a_dead_letter_leaves_the_queue_and_is_kept(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    first, second = box.put_many([_msg(0), _msg(1)])
    assert box.dead_letter(first, "too large") is True
    assert box.dead_letter(first, "again") is False  # no longer pending
    assert [m.id for m in box.pending()] == [second]
    assert [(m.topic, reason) for m, reason in box.dead_letters()] == [("t/0", "too large")]
    with pytest.raises(ValueError, match="negative"):
        Outbox(tmp_path / "other.db", keep_sent_bytes=-1)
