"""MQTT topic names. Every topic lives under ``civicwatch/v1/``.

Edges publish only under ``civicwatch/v1/edges/{edge_id}/``; sensors under
``civicwatch/v1/sensors/{site_id}/{sensor_id}``. What the server tells one edge to run lives
under ``civicwatch/v1/control/{edge_id}/`` (config, snapshot requests, model rollout): outside
the edge's own tree, so the edge's account, which may write anything under its tree, cannot
overwrite the server's retained config for itself. The server subscribes to the wildcard
patterns below and reads a topic back with :func:`parse_edge_topic` (edges) or
:func:`parse_sensor_topic` (sensors), never by splitting it itself.

Example:
    >>> parse_edge_topic("civicwatch/v1/edges/edge-1/events/cam-1")
    EdgeTopic(edge_id='edge-1', kind=<EdgeTopicKind.EVENTS: 'events'>, key='cam-1')
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from contracts.ids import is_identifier

PREFIX: Final[str] = "civicwatch/v1"

_EDGES: Final[str] = f"{PREFIX}/edges"
_SENSORS: Final[str] = f"{PREFIX}/sensors"
_CONTROL: Final[str] = f"{PREFIX}/control"


class TopicError(ValueError):
    """A topic that is not one of civicwatch's shapes; the message says why."""


def _segment(value: str, what: str) -> str:
    if not is_identifier(value):
        raise TopicError(f"{what} {value[:80]!r} is not a valid topic segment")
    return value


def edge_root(edge_id: str) -> str:
    """``civicwatch/v1/edges/{edge_id}``, under which an edge publishes everything."""
    return f"{_EDGES}/{_segment(edge_id, 'edge id')}"


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


def resend_topic(edge_id: str) -> str:
    """Where the server asks one edge to re-send part of its chain (retained, QoS 1).

    The payload is a :class:`contracts.resend.ResendRequest`; only the server's account
    may publish here and only the edge's own account may read it (the generated ACL).
    """
    return f"{edge_root(edge_id)}/resend"


def status_topic(edge_id: str) -> str:
    """Retained :class:`contracts.control.ConfigStatus`: the config version the edge runs."""
    return f"{edge_root(edge_id)}/status"


def health_topic(edge_id: str) -> str:
    """:class:`contracts.health.EdgeHealth` every few seconds (QoS 0, not retained)."""
    return f"{edge_root(edge_id)}/health"


def snapshot_topic(edge_id: str, camera_id: str) -> str:
    """:class:`contracts.control.SnapshotMessage`: a camera's latest frame (QoS 1)."""
    return f"{edge_root(edge_id)}/snapshot/{_segment(camera_id, 'camera id')}"


class ControlKind(StrEnum):
    """What the server sends one edge: the segment after ``control/{edge_id}/``."""

    CONFIG = "config"  # retained EdgeConfigMessage
    SNAPSHOT = "snapshot"  # SnapshotRequest, not retained
    MODEL = "model"  # retained; the model rollout's (issue 18)


def control_root(edge_id: str) -> str:
    """``civicwatch/v1/control/{edge_id}``: what only the server writes and that edge reads."""
    return f"{_CONTROL}/{_segment(edge_id, 'edge id')}"


def control_topic(edge_id: str, kind: ControlKind) -> str:
    """``civicwatch/v1/control/{edge_id}/{kind}``."""
    return f"{control_root(edge_id)}/{kind.value}"


def config_topic(edge_id: str) -> str:
    """Retained (QoS 1) :class:`contracts.control.EdgeConfigMessage` of one edge."""
    return control_topic(edge_id, ControlKind.CONFIG)


def snapshot_request_topic(edge_id: str) -> str:
    """:class:`contracts.control.SnapshotRequest` for one edge (QoS 1, not retained)."""
    return control_topic(edge_id, ControlKind.SNAPSHOT)


def model_topic(edge_id: str) -> str:
    """Retained model rollout message of one edge (issue 18 defines its payload)."""
    return control_topic(edge_id, ControlKind.MODEL)


def control_subscription(edge_id: str) -> str:
    """``civicwatch/v1/control/{edge_id}/#``: what an edge subscribes to and may read (ACL)."""
    return f"{control_root(edge_id)}/#"


def parse_control_topic(topic: str) -> tuple[str, ControlKind]:
    """Read ``civicwatch/v1/control/{edge_id}/{kind}`` back: the edge id and the kind.

    Raises:
        TopicError: Any other shape, an unknown kind, or a bad edge id.
    """
    parts = topic.split("/")
    if len(parts) != 5 or "/".join(parts[:3]) != _CONTROL:
        raise TopicError(f"not a control topic: {topic[:200]!r}")
    edge_id = _segment(parts[3], "edge id")
    try:
        return edge_id, ControlKind(parts[4])
    except ValueError:
        raise TopicError(f"unknown control topic kind {parts[4][:32]!r}") from None


def sensor_topic(site_id: str, sensor_id: str) -> str:
    """IoT readings (dust PM10 / PM2.5, noise) for one site and sensor."""
    return f"{_SENSORS}/{_segment(site_id, 'site id')}/{_segment(sensor_id, 'sensor id')}"


def sensor_site_subscription(site_id: str) -> str:
    """``civicwatch/v1/sensors/{site_id}/+``: every sensor of one site (subscription, ACL)."""
    return f"{_SENSORS}/{_segment(site_id, 'site id')}/+"


EVENTS_SUBSCRIPTION: Final[str] = f"{_EDGES}/+/events/+"
EVIDENCE_SUBSCRIPTION: Final[str] = f"{_EDGES}/+/evidence/+"
CHAIN_SUBSCRIPTION: Final[str] = f"{_EDGES}/+/chain/+"
AVAILABILITY_SUBSCRIPTION: Final[str] = f"{_EDGES}/+/availability"
SENSORS_SUBSCRIPTION: Final[str] = f"{_SENSORS}/+/+"
RESEND_PATTERN: Final[str] = f"{_EDGES}/+/resend"
"""Every edge's resend topic: what the server's account may publish (ACL)."""
STATUS_SUBSCRIPTION: Final[str] = f"{_EDGES}/+/status"
HEALTH_SUBSCRIPTION: Final[str] = f"{_EDGES}/+/health"
SNAPSHOT_SUBSCRIPTION: Final[str] = f"{_EDGES}/+/snapshot/+"
CONTROL_PATTERN: Final[str] = f"{_CONTROL}/#"
"""Every edge's control topics: what the server's account may publish, retained (ACL)."""


class EdgeTopicKind(StrEnum):
    """What an edge publishes on a topic: the segment after its edge id."""

    EVENTS = "events"
    EVIDENCE = "evidence"
    CHAIN = "chain"
    AVAILABILITY = "availability"
    STATUS = "status"
    HEALTH = "health"
    SNAPSHOT = "snapshot"


_KEYLESS: Final[frozenset[EdgeTopicKind]] = frozenset(
    {EdgeTopicKind.AVAILABILITY, EdgeTopicKind.STATUS, EdgeTopicKind.HEALTH}
)


@dataclass(frozen=True, slots=True)
class EdgeTopic:
    """An edge topic, read back.

    Attributes:
        edge_id: The publishing edge.
        kind: What the topic carries.
        key: The camera id (events, snapshot), sha256 (evidence) or sequence number
            (chain), as written in the topic; empty for availability, status and health,
            which have none.
    """

    edge_id: str
    kind: EdgeTopicKind
    key: str


@dataclass(frozen=True, slots=True)
class SensorTopic:
    """A sensor topic, read back.

    Attributes:
        site_id: The site the sensor stands on.
        sensor_id: The sensor.
    """

    site_id: str
    sensor_id: str


def edge_id_of(topic: str) -> str | None:
    """The edge id a topic names under ``civicwatch/v1/edges/``, whatever follows it.

    For log lines about a topic that may not parse; ``None`` when there is none.
    """
    head, _, rest = topic.partition(f"{_EDGES}/")
    edge_id = rest.split("/", 1)[0]
    return edge_id if not head and is_identifier(edge_id) else None


def parse_edge_topic(topic: str) -> EdgeTopic:
    """Read ``civicwatch/v1/edges/{edge}/{kind}/{key}`` or ``.../{edge}/{keyless kind}``.

    Args:
        topic: The topic a message arrived on.

    Returns:
        The edge, the kind and the key.

    Raises:
        TopicError: Any other shape, an unknown kind, or a segment that is not an
            identifier.
    """
    parts = topic.split("/")
    if len(parts) not in (5, 6) or "/".join(parts[:3]) != _EDGES:
        raise TopicError(f"not an edge topic: {topic[:200]!r}")
    edge_id = _segment(parts[3], "edge id")
    try:
        kind = EdgeTopicKind(parts[4])
    except ValueError:
        raise TopicError(f"unknown edge topic kind {parts[4][:32]!r}") from None
    if kind in _KEYLESS:
        if len(parts) != 5:
            article = "an" if kind.value[0] in "aeiou" else "a"
            raise TopicError(f"{article} {kind} topic has no key: {topic[:200]!r}")
        return EdgeTopic(edge_id=edge_id, kind=kind, key="")
    if len(parts) != 6:
        raise TopicError(f"a {kind} topic needs a key: {topic[:200]!r}")
    return EdgeTopic(edge_id=edge_id, kind=kind, key=_segment(parts[5], "topic key"))


def parse_sensor_topic(topic: str) -> SensorTopic:
    """Read ``civicwatch/v1/sensors/{site_id}/{sensor_id}``.

    Raises:
        TopicError: Any other shape, or a segment that is not an identifier.
    """
    parts = topic.split("/")
    if len(parts) != 5 or "/".join(parts[:3]) != _SENSORS:
        raise TopicError(f"expected {_SENSORS}/SITE/SENSOR, got {topic[:200]!r}")
    return SensorTopic(
        site_id=_segment(parts[3], "site id"), sensor_id=_segment(parts[4], "sensor id")
    )
