"""MQTT topic names. Every topic lives under ``civicwatch/v1/``.

Edges publish only under ``civicwatch/v1/edges/{edge_id}/``; the server subscribes to
the wildcard patterns below.
"""

from __future__ import annotations

import re

PREFIX = "civicwatch/v1"

_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _segment(value: str, what: str) -> str:
    if not _SEGMENT.match(value):
        raise ValueError(f"{what} {value!r} is not a valid topic segment")
    return value


def edge_root(edge_id: str) -> str:
    return f"{PREFIX}/edges/{_segment(edge_id, 'edge id')}"


def event_topic(edge_id: str, camera_id: str) -> str:
    """Where an edge publishes :class:`contracts.ZoneEvent` JSON for one camera."""
    return f"{edge_root(edge_id)}/events/{_segment(camera_id, 'camera id')}"


def evidence_topic(edge_id: str, sha256: str) -> str:
    """Where an edge publishes the raw bytes of one evidence item (JPEG or JSON)."""
    return f"{edge_root(edge_id)}/evidence/{_segment(sha256, 'sha256')}"


def chain_topic(edge_id: str, seq: int) -> str:
    """Where an edge publishes its signed chain record ``seq`` (:mod:`contracts.chain`)."""
    if seq < 1:
        raise ValueError(f"chain sequence number {seq} is not positive")
    return f"{edge_root(edge_id)}/chain/{seq}"


def availability_topic(edge_id: str) -> str:
    """Retained ``online`` / ``offline``; ``offline`` is also the edge's last will."""
    return f"{edge_root(edge_id)}/availability"


def sensor_topic(site_id: str, sensor_id: str) -> str:
    """IoT readings (dust PM10 / PM2.5, noise) for one site and sensor."""
    return f"{PREFIX}/sensors/{_segment(site_id, 'site id')}/{_segment(sensor_id, 'sensor id')}"


EVENTS_SUBSCRIPTION = f"{PREFIX}/edges/+/events/+"
EVIDENCE_SUBSCRIPTION = f"{PREFIX}/edges/+/evidence/+"
CHAIN_SUBSCRIPTION = f"{PREFIX}/edges/+/chain/+"
AVAILABILITY_SUBSCRIPTION = f"{PREFIX}/edges/+/availability"
SENSORS_SUBSCRIPTION = f"{PREFIX}/sensors/+/+"


def parse_edge_topic(topic: str) -> tuple[str, str, str]:
    """Split ``civicwatch/v1/edges/{edge}/{kind}/{key}`` into (edge, kind, key).

    Raises ``ValueError`` for any other shape.
    """
    parts = topic.split("/")
    if len(parts) != 6 or "/".join(parts[:3]) != f"{PREFIX}/edges":
        raise ValueError(f"not an edge topic: {topic!r}")
    edge_id, kind, key = parts[3], parts[4], parts[5]
    _segment(edge_id, "edge id")
    _segment(key, "topic key")
    return edge_id, kind, key
