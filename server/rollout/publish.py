"""Publish assignments retained on each edge's model topic (one short-lived MQTT client).

The command line has no long-running publisher: it connects with the server's ``mqtt``
settings (:func:`contracts.mqtt.create_client`, client id ``<mqtt.client_id>-rollout``),
publishes every message retained at QoS 1, waits for each acknowledgement and disconnects.
Retained, the broker hands the newest assignment to an edge whenever it (re)subscribes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any, Final

from contracts.model_rollout import ModelAssignmentMessage
from contracts.mqtt import MqttSettings, create_client
from contracts.topics import model_topic

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S: Final[float] = 15.0
PUBLISH_TIMEOUT_S: Final[float] = 10.0


class PublishError(RuntimeError):
    """The broker could not be reached or did not acknowledge a message."""


def publish_assignments(settings: MqttSettings, messages: Sequence[ModelAssignmentMessage]) -> None:
    """Publish each message retained (QoS 1) on its edge's model topic and wait for the acks.

    Raises:
        PublishError: No connection within the timeout, or a message not acknowledged.
    """
    if not messages:
        return
    connected = threading.Event()
    client = create_client(
        settings, client_id=f"{settings.client_id_or('civicwatch-server')}-rollout"
    )

    def on_connect(_client: Any, _userdata: Any, _flags: Any, reason: Any, *_rest: Any) -> None:
        if not getattr(reason, "is_failure", False):
            connected.set()

    client.on_connect = on_connect
    client.loop_start()
    try:
        if not connected.wait(CONNECT_TIMEOUT_S):
            raise PublishError(f"no connection to the broker at {settings.address}")
        for message in messages:
            info = client.publish(
                model_topic(message.edge_id), message.to_json(), qos=1, retain=True
            )
            info.wait_for_publish(timeout=PUBLISH_TIMEOUT_S)
            if not info.is_published():
                raise PublishError(f"the broker did not acknowledge edge {message.edge_id}'s model")
            logger.info(
                "published model %s@%s (revision %d) for edge %s",
                message.model.name,
                message.model.version,
                message.revision,
                message.edge_id,
            )
    finally:
        client.disconnect()
        client.loop_stop()
