"""Group commits: a bounded queue of received messages drained by one committer thread.

paho's network thread only puts each message into the queue (:meth:`GroupCommitter.put`);
the committer takes everything that waits, up to ``batch_max`` messages (and, when
``batch_wait_ms`` is set, what arrives that much longer), and hands the batch to its
``commit`` function, which stores and acknowledges it. An idle server so commits each
message at once, a busy one many per transaction: the batch grows with the load.

A full queue blocks paho's thread, so the broker keeps what the server cannot take yet;
nothing is acknowledged before its commit, and what waits in the queue when the server
stops stays unacknowledged and comes again from the broker's session.
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

from server.core.ingest_settings import IngestSettings

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
    """Drains a bounded queue of :class:`Received` in batches on its own thread.

    Args:
        settings: ``batch_max``, ``batch_wait_ms`` and ``queue_max``.
        commit: Stores and acknowledges one batch, in order; called on the committer's
            thread only. It must not raise (it is the ingest's own, which never does).
    """

    def __init__(
        self, *, settings: IngestSettings, commit: Callable[[list[Received]], None]
    ) -> None:
        self._batch_max = settings.batch_max
        self._wait_s = settings.batch_wait_ms / 1000.0
        self._queue: queue.Queue[Received] = queue.Queue(maxsize=settings.queue_max)
        self._commit = commit
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def depth(self) -> int:
        """Messages received and not yet taken by the committer."""
        return self._queue.qsize()

    def start(self) -> None:
        """Start the committer thread."""
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="ingest-commit", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Let the batch in hand finish and stop; what still waits stays unacknowledged."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)
            if self._thread.is_alive():
                logger.warning("the ingest committer is still busy after %.0f s", timeout_s)
            self._thread = None
        left = self.depth()
        if left:
            logger.info("%d received message(s) left unacknowledged for the broker", left)

    def put(self, item: Received) -> bool:
        """Queue ``item``, waiting while the queue is full; ``False`` when stopping first."""
        while not self._stopping.is_set():
            try:
                self._queue.put(item, timeout=_POLL_S)
            except queue.Full:
                continue
            return True
        return False

    def _take(self) -> list[Received]:
        """The next batch: what waits now (after the first), up to ``batch_max``."""
        try:
            first = self._queue.get(timeout=_POLL_S)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self._wait_s
        while len(batch) < self._batch_max:
            remaining = deadline - time.monotonic()
            try:
                if remaining > 0:
                    batch.append(self._queue.get(timeout=remaining))
                else:
                    batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _run(self) -> None:
        while not self._stopping.is_set():
            batch = self._take()
            if batch:
                self._commit(batch)
