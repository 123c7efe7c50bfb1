"""Size limits every civicwatch process agrees on: one number, used everywhere.

The edge refuses to make an evidence item larger than :data:`MAX_EVIDENCE_BYTES`
(:mod:`edge.evidence`), the wire schema refuses a reference to one
(:class:`contracts.events.EvidenceRef`), and the broker configuration is generated with
``max_packet_size`` :data:`BROKER_MESSAGE_SIZE_LIMIT` (:mod:`server.mosquitto_auth`,
:mod:`civicwatch.services`), so an item the edge may make is an item the broker takes.
A message larger than :data:`MAX_MESSAGE_BYTES` can never be sent: the edge's publisher
moves it to its dead letter with a chain record instead of retrying it forever.

Example:
    >>> BROKER_MESSAGE_SIZE_LIMIT - MAX_EVIDENCE_BYTES
    65536
"""

from __future__ import annotations

from typing import Final

MAX_EVIDENCE_BYTES: Final[int] = 20 * 1024 * 1024
"""The largest evidence item (JPEG, PNG or JSON) an edge may make and the server stores."""

MQTT_HEADROOM_BYTES: Final[int] = 64 * 1024
"""Room above the largest payload for the MQTT header, topic and properties."""

MAX_MESSAGE_BYTES: Final[int] = MAX_EVIDENCE_BYTES
"""The largest payload the edge publishes; anything larger goes to its dead letter."""

BROKER_MESSAGE_SIZE_LIMIT: Final[int] = MAX_MESSAGE_BYTES + MQTT_HEADROOM_BYTES
"""Mosquitto's ``max_packet_size`` (payload, topic, header) in every generated configuration."""

__all__ = [
    "BROKER_MESSAGE_SIZE_LIMIT",
    "MAX_EVIDENCE_BYTES",
    "MAX_MESSAGE_BYTES",
    "MQTT_HEADROOM_BYTES",
]
