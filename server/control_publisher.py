"""The server's publisher of control messages: each edge's config (retained) and snapshot asks.

One paho client (:func:`contracts.mqtt.create_client`, the server's ``mqtt`` settings, client
id ``<mqtt.client_id>-control``) and one worker thread. :meth:`ControlPublisher.push_config`
queues an edge; the worker rebuilds the edge's whole :class:`contracts.control.EdgeConfigMessage`
from the committed rows (:func:`server.cameras.edge_config.build_edge_config`) and publishes it
retained at QoS 1 on :func:`contracts.topics.config_topic`. After every (re)connect it
publishes every edge's config again, so nothing depends on the broker having kept a retained
message, and an edge that was offline during a save gets the newest version when it returns
(the broker hands the retained message to its subscription).

Snapshot requests (:class:`contracts.control.SnapshotRequest`) go out at QoS 1, not retained:
a request is only worth answering while an operator waits for it.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from contracts.control import SnapshotRequest
from contracts.mqtt import MqttSettings, create_client
from contracts.topics import config_topic, snapshot_request_topic
from server.cameras.edge_config import build_edge_config, configured_edges, mark_published
from server.core.db import utcnow

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt
    from paho.mqtt.properties import Properties
    from paho.mqtt.reasoncodes import ReasonCode

logger = logging.getLogger(__name__)

PUBLISH_TIMEOUT_S: Final[float] = 10.0
"""How long the worker waits for the broker to acknowledge one config (QoS 1)."""

DEFAULT_CLIENT_ID: Final[str] = "civicwatch-server"


@dataclass(frozen=True, slots=True)
class _AllEdges:
    """Work item: publish every edge's config (after a connect)."""


@dataclass(frozen=True, slots=True)
class _EdgeConfig:
    edge_id: str


@dataclass(frozen=True, slots=True)
class _Snapshot:
    request: SnapshotRequest


@dataclass(frozen=True, slots=True)
class _Stop:
    pass


_Work = _AllEdges | _EdgeConfig | _Snapshot | _Stop


class ControlPublisher:
    """Publishes edge configs (retained) and snapshot requests; republishes on reconnect.

    Args:
        settings: The broker connection (the server's ``mqtt`` settings).
        session_factory: Where configs are read from.
    """

    def __init__(self, settings: MqttSettings, *, session_factory: sessionmaker[Session]) -> None:
        self._settings = settings
        self._session_factory = session_factory
        self._queue: queue.Queue[_Work] = queue.Queue()
        self._connected = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._client: mqtt.Client | None = None
        self._worker: threading.Thread | None = None
        self.published = 0
        """Config messages the broker acknowledged (for tests and /healthz)."""

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        """Connect in the background and start the worker; returns at once."""
        client_id = f"{self._settings.client_id_or(DEFAULT_CLIENT_ID)}-control"
        client = create_client(self._settings, client_id=client_id)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        self._client = client
        self._worker = threading.Thread(target=self._run, name="control-publisher", daemon=True)
        self._worker.start()
        logger.info("control publisher connecting to %s as %s", self._settings.address, client_id)
        client.loop_start()

    def stop(self) -> None:
        """Finish the queued work in hand, disconnect and join the threads."""
        if self._worker is not None:
            self._queue.put(_Stop())
            self._worker.join(timeout=PUBLISH_TIMEOUT_S + 5)
            self._worker = None
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()
        self._connected.clear()

    def push_config(self, edge_id: str) -> None:
        """Publish ``edge_id``'s current config (call after the change is committed)."""
        self._enqueue(_EdgeConfig(edge_id))

    def request_snapshot(self, request: SnapshotRequest) -> None:
        """Ask an edge for a snapshot (dropped while disconnected: the editor times out)."""
        self._enqueue(_Snapshot(request))

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def wait_idle(self, timeout_s: float) -> bool:
        """Block until the queue is worked off (for tests)."""
        return self._idle.wait(timeout_s)

    def _enqueue(self, work: _Work) -> None:
        self._idle.clear()
        self._queue.put(work)

    def _on_connect(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: Any,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            logger.error("control publisher: broker refused the connection: %s", reason_code)
            return
        logger.info("control publisher connected; publishing every edge's config")
        self._connected.set()
        self._enqueue(_AllEdges())

    def _on_disconnect(self, *_args: Any) -> None:
        if self._connected.is_set():
            logger.warning("control publisher lost the broker; will republish on reconnect")
        self._connected.clear()

    def _run(self) -> None:
        while True:
            work = self._queue.get()
            if isinstance(work, _Stop):
                return
            try:
                self._do(work)
            except SQLAlchemyError:
                logger.exception("control publisher: cannot read configs; retried on next change")
            except Exception:
                logger.exception("control publisher: unexpected error")
            if self._queue.empty():
                self._idle.set()

    def _do(self, work: _Work) -> None:
        if isinstance(work, _AllEdges):
            with self._session_factory() as session:
                edges = configured_edges(session)
            for edge_id in edges:
                self._publish_config(edge_id)
        elif isinstance(work, _EdgeConfig):
            self._publish_config(work.edge_id)
        elif isinstance(work, _Snapshot):
            self._publish(
                snapshot_request_topic(work.request.edge_id), work.request.to_json(), retain=False
            )

    def _publish_config(self, edge_id: str) -> None:
        with self._session_factory() as session:
            message = build_edge_config(session, edge_id=edge_id)
        if message is None:
            return
        if not self._publish(config_topic(edge_id), message.to_json(), retain=True):
            return
        self.published += 1
        logger.info(
            "published config %d of edge %s (%d cameras)",
            message.version,
            edge_id,
            len(message.cameras),
        )
        with self._session_factory() as session, session.begin():
            mark_published(session, edge_id=edge_id, version=message.version, now=utcnow())

    def _publish(self, topic: str, payload: bytes, *, retain: bool) -> bool:
        """Publish at QoS 1 and wait for the broker's acknowledgement; ``False`` if none."""
        client = self._client
        if client is None or not self._connected.is_set():
            logger.info("control publisher offline: %s goes out after the reconnect", topic)
            return False
        info = client.publish(topic, payload, qos=1, retain=retain)
        try:
            info.wait_for_publish(timeout=PUBLISH_TIMEOUT_S)
        except (RuntimeError, ValueError) as exc:
            logger.warning("control publisher: %s not published: %s", topic, exc)
            return False
        if not info.is_published():
            logger.warning("control publisher: no acknowledgement for %s", topic)
            return False
        return True
