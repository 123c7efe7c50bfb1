"""Group commits: bounded queues of received messages drained by committer threads.

paho's network thread only puts each message into the queue of its edge's committer
(:meth:`GroupCommitter.put`; ``committers`` threads, an edge always on the same one, so
its messages stay in order); each committer takes everything that waits in its queue,
up to ``batch_max`` messages (and, when ``batch_wait_ms`` is set, what arrives that much
longer), and hands the batch to the ``commit`` function, which stores and acknowledges
it. An idle server so commits each message at once, a busy one many per transaction:
the batch grows with the load, and one committer runs while another waits on the
database or an fsync.

A full queue blocks paho's thread, so the broker keeps what the server cannot take yet;
nothing is acknowledged before its commit, and what waits in a queue when the server
stops is dropped unacknowledged and comes again from the broker's session.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from paho.mqtt.properties import Properties

from contracts.topics import edge_id_of
from server.core.ingest_settings import IngestSettings
from server.ingest.edge_lock import edge_lock_key

logger = logging.getLogger(__name__)

_POLL_S: Final[float] = 0.2
"""How often a blocked put or an idle committer looks whether the ingest is stopping."""


@dataclass(frozen=True, slots=True)
class Received:
    """One MQTT message waiting for its commit, with what its acknowledgement needs.

    Attributes:
        topic: The topic it arrived on.
        payload: Its bytes.
        properties: Its MQTT v5 properties (``None`` for MQTT 3.1.1).
        mid: The broker's message id (for the PUBACK).
        qos: Its QoS.
        received_s: ``time.monotonic()`` when paho handed it over.
    """

    topic: str
    payload: bytes
    properties: Properties | None
    mid: int
    qos: int
    received_s: float


class GroupCommitter:
    """Drains bounded queues of :class:`Received` in batches, one thread per queue.

    Args:
        settings: ``committers``, ``batch_max``, ``batch_wait_ms`` and ``queue_max``.
        commit: Stores and acknowledges one batch, in order; called on a committer's
            thread, for one committer's edges only. It must not raise (it is the
            ingest's own, which never does).
    """

    def __init__(
        self, *, settings: IngestSettings, commit: Callable[[list[Received]], None]
    ) -> None:
        self._batch_max = settings.batch_max
        self._wait_s = settings.batch_wait_ms / 1000.0
        self._queues: list[queue.Queue[Received]] = [
            queue.Queue(maxsize=settings.queue_max) for _ in range(settings.committers)
        ]
        self._commit = commit
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def depth(self) -> int:
        """Messages received and not yet taken by a committer."""
        return sum(q.qsize() for q in self._queues)

    def start(self) -> None:
        """Start the committer threads."""
        self._stopping.clear()
        self._threads = [
            threading.Thread(target=self._run, args=(q,), name=f"ingest-commit-{i}", daemon=True)
            for i, q in enumerate(self._queues)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Let the batches in hand finish and stop; what still waits is dropped unacknowledged.

        The broker delivers those again (the session keeps them); they are not kept for a
        later :meth:`start`, whose connection would acknowledge their stale message ids.
        """
        self._stopping.set()
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                logger.warning(
                    "ingest committer %s is still busy after %.0f s", thread.name, timeout_s
                )
        self._threads = []
        left = 0
        for waiting in self._queues:
            while True:
                try:
                    waiting.get_nowait()
                except queue.Empty:
                    break
                left += 1
        if left:
            logger.info("%d received message(s) left unacknowledged for the broker", left)

    def put(self, item: Received) -> bool:
        """Queue ``item`` for its edge's committer, waiting while that queue is full.

        Returns:
            ``False`` when the ingest is stopping first (the message stays unacknowledged).
        """
        target = self._queues[edge_lock_key(edge_id_of(item.topic) or "") % len(self._queues)]
        while not self._stopping.is_set():
            try:
                target.put(item, timeout=_POLL_S)
            except queue.Full:
                continue
            return True
        return False

    def _take(self, source: queue.Queue[Received]) -> list[Received]:
        """The next batch: what waits now (after the first), up to ``batch_max``."""
        try:
            first = source.get(timeout=_POLL_S)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self._wait_s
        while len(batch) < self._batch_max:
            remaining = deadline - time.monotonic()
            try:
                if remaining > 0:
                    batch.append(source.get(timeout=remaining))
                else:
                    batch.append(source.get_nowait())
            except queue.Empty:
                break
        return batch

    def _run(self, source: queue.Queue[Received]) -> None:
        while not self._stopping.is_set():
            batch = self._take(source)
            if batch:
                self._commit(batch)
