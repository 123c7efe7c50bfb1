"""Topic names and reading them back: every builder round-trips, every other shape is refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from contracts import topics
from contracts.topics import (
    EdgeTopic,
    EdgeTopicKind,
    SensorTopic,
    TopicError,
    edge_id_of,
    parse_edge_topic,
    parse_sensor_topic,
)

SHA = "a" * 64


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        (topics.event_topic("edge-1", "cam-1"), EdgeTopic("edge-1", EdgeTopicKind.EVENTS, "cam-1")),
        (topics.evidence_topic("e.2", SHA), EdgeTopic("e.2", EdgeTopicKind.EVIDENCE, SHA)),
        (topics.chain_topic("edge_3", 12), EdgeTopic("edge_3", EdgeTopicKind.CHAIN, "12")),
        (topics.availability_topic("E4"), EdgeTopic("E4", EdgeTopicKind.AVAILABILITY, "")),
        (topics.status_topic("e5"), EdgeTopic("e5", EdgeTopicKind.STATUS, "")),
        (topics.health_topic("e6"), EdgeTopic("e6", EdgeTopicKind.HEALTH, "")),
        (topics.snapshot_topic("e7", "c"), EdgeTopic("e7", EdgeTopicKind.SNAPSHOT, "c")),
    ],
)
def test_edge_topics_round_trip(topic: str, expected: EdgeTopic) -> None:
    assert parse_edge_topic(topic) == expected
    assert edge_id_of(topic) == expected.edge_id


@pytest.mark.parametrize(
    ("topic", "message"),
    [
        ("", "not an edge topic"),
        ("civicwatch/v1/edges", "not an edge topic"),
        ("civicwatch/v1/edges/edge-1", "not an edge topic"),
        ("civicwatch/v2/edges/edge-1/events/cam-1", "not an edge topic"),
        ("civicwatch/v1/sensors/site/dust/x", "not an edge topic"),
        ("civicwatch/v1/edges/edge-1/events/cam-1/x", "not an edge topic"),
        ("civicwatch/v1/edges/edge-1/bogus/cam-1", "unknown edge topic kind 'bogus'"),
        ("civicwatch/v1/edges/edge-1/state", "unknown edge topic kind 'state'"),
        ("civicwatch/v1/edges/edge-1/status/x", "a status topic has no key"),
        ("civicwatch/v1/edges/edge-1/health/cam-1", "a health topic has no key"),
        ("civicwatch/v1/edges/edge-1/snapshot", "a snapshot topic needs a key"),
        ("civicwatch/v1/edges/edge-1/events", "a events topic needs a key"),
        ("civicwatch/v1/edges/edge-1/availability/x", "an availability topic has no key"),
        ("civicwatch/v1/edges/edge 1/events/cam-1", "edge id 'edge 1'"),
        ("civicwatch/v1/edges//events/cam-1", "edge id ''"),
        ("civicwatch/v1/edges/edge-1/events/cam 1", "topic key 'cam 1'"),
        ("civicwatch/v1/edges/edge-1/events/-cam", "topic key '-cam'"),
        (f"civicwatch/v1/edges/edge-1/evidence/{'a' * 65}", "topic key"),
    ],
)
def test_other_shapes_are_not_edge_topics(topic: str, message: str) -> None:
    with pytest.raises(TopicError, match="^" + message.replace("(", r"\(")) as info:
        parse_edge_topic(topic)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("civicwatch/v1/edges/edge-1/events/cam-1", "edge-1"),
        ("civicwatch/v1/edges/edge-1/bogus/1/2/3", "edge-1"),  # whatever follows
        ("civicwatch/v1/edges/edge 1/events/cam-1", None),
        ("civicwatch/v1/edges/", None),
        ("elsewhere/civicwatch/v1/edges/edge-1/events/cam-1", None),
        ("", None),
    ],
)
def test_edge_id_of(topic: str, expected: str | None) -> None:
    assert edge_id_of(topic) == expected


def test_sensor_topics_round_trip() -> None:
    topic = topics.sensor_topic("site-7", "dust-1")
    assert parse_sensor_topic(topic) == SensorTopic("site-7", "dust-1")


@pytest.mark.parametrize(
    ("topic", "message"),
    [
        ("", "expected civicwatch/v1/sensors/SITE/SENSOR"),
        ("civicwatch/v1/sensors/site-7", "expected civicwatch/v1/sensors/SITE/SENSOR"),
        ("civicwatch/v1/sensors/site-7/dust-1/x", "expected civicwatch/v1/sensors/SITE/SENSOR"),
        ("civicwatch/v1/edges/e/events/c", "expected civicwatch/v1/sensors/SITE/SENSOR"),
        ("civicwatch/v1/sensors//dust-1", "site id ''"),
        ("civicwatch/v1/sensors/site-7/dust 1", "sensor id 'dust 1'"),
    ],
)
def test_other_shapes_are_not_sensor_topics(topic: str, message: str) -> None:
    with pytest.raises(TopicError, match="^" + message):
        parse_sensor_topic(topic)


@pytest.mark.parametrize(
    "build",
    [
        lambda: topics.event_topic("edge/1", "cam"),
        lambda: topics.event_topic("edge", "+"),
        lambda: topics.evidence_topic("edge", "#"),
        lambda: topics.availability_topic(""),
        lambda: topics.sensor_topic("site", "a" * 65),
        lambda: topics.chain_topic("edge", 0),
    ],
)
def test_builders_refuse_what_would_not_parse(build: Callable[[], str]) -> None:
    with pytest.raises(ValueError):
        build()


def test_subscriptions_match_their_builders() -> None:
    pairs = [
        (topics.EVENTS_SUBSCRIPTION, topics.event_topic("e", "c")),
        (topics.EVIDENCE_SUBSCRIPTION, topics.evidence_topic("e", SHA)),
        (topics.CHAIN_SUBSCRIPTION, topics.chain_topic("e", 1)),
        (topics.AVAILABILITY_SUBSCRIPTION, topics.availability_topic("e")),
        (topics.SENSORS_SUBSCRIPTION, topics.sensor_topic("s", "x")),
        (topics.STATUS_SUBSCRIPTION, topics.status_topic("e")),
        (topics.HEALTH_SUBSCRIPTION, topics.health_topic("e")),
        (topics.SNAPSHOT_SUBSCRIPTION, topics.snapshot_topic("e", "c")),
    ]
    for pattern, topic in pairs:
        wanted = pattern.split("/")
        got = topic.split("/")
        assert len(wanted) == len(got), (pattern, topic)
        assert all(w in ("+", g) for w, g in zip(wanted, got, strict=True)), (pattern, topic)


@pytest.mark.parametrize("kind", list(topics.ControlKind))
def test_control_topics_round_trip(kind: topics.ControlKind) -> None:
    topic = topics.control_topic("edge-1", kind)
    assert topic == f"civicwatch/v1/control/edge-1/{kind.value}"
    assert topics.parse_control_topic(topic) == ("edge-1", kind)
    assert not topic.startswith(topics.edge_root("edge-1"))  # outside the edge's own tree


def test_control_topic_builders() -> None:
    assert topics.config_topic("e") == "civicwatch/v1/control/e/config"
    assert topics.snapshot_request_topic("e") == "civicwatch/v1/control/e/snapshot"
    assert topics.model_topic("e") == "civicwatch/v1/control/e/model"
    assert topics.control_subscription("e") == "civicwatch/v1/control/e/#"


@pytest.mark.parametrize(
    ("topic", "message"),
    [
        ("civicwatch/v1/control/e/bogus", "unknown control topic kind 'bogus'"),
        ("civicwatch/v1/control/e", "not a control topic"),
        ("civicwatch/v1/control/e/config/x", "not a control topic"),
        ("civicwatch/v1/edges/e/config", "not a control topic"),
        ("civicwatch/v1/control/e 1/config", "edge id 'e 1'"),
    ],
)
def test_other_shapes_are_not_control_topics(topic: str, message: str) -> None:
    with pytest.raises(TopicError, match="^" + message):
        topics.parse_control_topic(topic)
