"""Sensor readings inside the edge: parsing a wire payload into :class:`SensorSample` values.

A payload is validated against :class:`contracts.sensors.SensorReading` and against its
topic; anything wrong raises :class:`SensorPayloadError` whose message names the topic and
every problem (``values.0.value: Input should be greater than or equal to 0``), so the
subscriber can log it and go on with the next message.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from contracts.sensors import Quantity, SensorReading
from contracts.topics import TopicError, parse_sensor_topic


@dataclass(frozen=True, slots=True)
class SensorSample:
    """One value of one sensor reading.

    Attributes:
        site_id: The site.
        sensor_id: The sensor.
        quantity: What was measured.
        value: The value in the quantity's unit (``contracts.sensors.UNITS``).
        measured_at: When (UTC, timezone-aware).
    """

    site_id: str
    sensor_id: str
    quantity: Quantity
    value: float
    measured_at: datetime

    def __post_init__(self) -> None:
        if self.measured_at.tzinfo is None or self.measured_at.utcoffset() is None:
            raise ValueError("measured_at must be timezone-aware (UTC)")
        if not math.isfinite(self.value) or self.value < 0:
            raise ValueError(f"value must be finite and >= 0, got {self.value}")


class SensorPayloadError(ValueError):
    """A sensor message that cannot be used.

    Attributes:
        topic: Where it arrived.
        problems: One line per problem.
    """

    def __init__(self, topic: str, problems: list[str]) -> None:
        self.topic = topic
        self.problems = problems
        super().__init__(f"sensor message on {topic!r} refused: " + "; ".join(problems))


def parse_sensor_message(
    topic: str, payload: bytes, received_at: datetime, *, max_ahead_s: float = 300.0
) -> list[SensorSample]:
    """Validate one sensor message and split it into samples.

    Args:
        topic: The MQTT topic it arrived on.
        payload: Its bytes (UTF-8 JSON of a :class:`~contracts.sensors.SensorReading`).
        received_at: When it arrived (UTC); a reading from further in the future than
            ``max_ahead_s`` is refused (the sensor's clock is wrong).
        max_ahead_s: Tolerated clock skew, seconds.

    Returns:
        One sample per value, in payload order.

    Raises:
        SensorPayloadError: Naming the topic and every problem found.
    """
    try:
        address = parse_sensor_topic(topic)
    except TopicError as exc:
        raise SensorPayloadError(topic, [f"not a sensor topic: {exc}"]) from None
    site_id, sensor_id = address.site_id, address.sensor_id
    try:
        json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SensorPayloadError(topic, [f"not JSON: {exc}"]) from None
    try:
        reading = SensorReading.model_validate_json(payload)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"])
            msg = error["msg"].removeprefix("Value error, ")
            got = error.get("input")
            shown = "" if isinstance(got, dict | list) or error["type"] == "missing" else got
            problems.append(
                f"{where + ': ' if where else ''}{msg}"
                + (f" (got {shown!r})" if shown not in ("", None) else "")
            )
        raise SensorPayloadError(topic, problems) from None
    problems = []
    if reading.site_id != site_id:
        problems.append(f"site_id {reading.site_id!r} does not match the topic's {site_id!r}")
    if reading.sensor_id != sensor_id:
        problems.append(f"sensor_id {reading.sensor_id!r} does not match the topic's {sensor_id!r}")
    ahead = (reading.measured_at - received_at).total_seconds()
    if ahead > max_ahead_s:
        problems.append(
            f"measured_at {reading.measured_at.isoformat()} is {ahead:.0f} s in the future "
            "(sensor clock wrong?)"
        )
    if problems:
        raise SensorPayloadError(topic, problems)
    return [
        SensorSample(site_id, sensor_id, v.quantity, v.value, reading.measured_at)
        for v in reading.values
    ]
