"""Hand sensor samples from the MQTT thread to the camera pipelines that want their site.

Each consumer (one camera's rule engine) registers the sites it watches and gets a
:class:`SensorInbox`; :meth:`SensorHub.publish` puts a sample in every inbox of its site. A
pipeline drains its inbox once per analysed frame and passes the samples to its rules. An
inbox is bounded: when a pipeline stalls, the oldest samples are dropped and counted.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterable

from edge.sensors.samples import SensorSample

logger = logging.getLogger(__name__)


class SensorInbox:
    """Samples waiting for one consumer.

    Args:
        name: Who consumes it (for logs).
        sites: The sites it wants.
        capacity: Most samples kept; older ones are dropped first.
    """

    def __init__(self, name: str, sites: Iterable[str], capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.name = name
        self.sites = frozenset(sites)
        self.dropped = 0
        self._queue: deque[SensorSample] = deque(maxlen=capacity)
        self._lock = threading.Lock()

    def put(self, sample: SensorSample) -> None:
        """Queue a sample (dropping the oldest when full)."""
        with self._lock:
            if len(self._queue) == self._queue.maxlen:
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 1000 == 0:
                    logger.warning(
                        "sensor inbox of %s is full; %d oldest sample(s) dropped so far",
                        self.name,
                        self.dropped,
                    )
            self._queue.append(sample)

    def drain(self) -> tuple[SensorSample, ...]:
        """Take every queued sample, oldest first."""
        with self._lock:
            samples = tuple(self._queue)
            self._queue.clear()
        return samples


class SensorHub:
    """Routes samples to the inboxes of the consumers that watch their site.

    Args:
        capacity: Size of each inbox.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._inboxes: list[SensorInbox] = []
        self._lock = threading.Lock()

    def register(self, name: str, sites: Iterable[str]) -> SensorInbox:
        """A new inbox for the samples of ``sites``."""
        inbox = SensorInbox(name, sites, self.capacity)
        with self._lock:
            self._inboxes.append(inbox)
        logger.info("sensor hub: %s watches site(s) %s", name, ", ".join(sorted(inbox.sites)))
        return inbox

    @property
    def sites(self) -> frozenset[str]:
        """Every site some consumer watches."""
        with self._lock:
            return frozenset().union(*(i.sites for i in self._inboxes))

    def publish(self, sample: SensorSample) -> int:
        """Put ``sample`` in every inbox of its site; return how many took it."""
        with self._lock:
            inboxes = [i for i in self._inboxes if sample.site_id in i.sites]
        for inbox in inboxes:
            inbox.put(sample)
        return len(inboxes)
