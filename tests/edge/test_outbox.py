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
