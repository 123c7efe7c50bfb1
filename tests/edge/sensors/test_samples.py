"""Sensor payloads: the documented schema, and a clear error for everything wrong."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contracts.sensors import Quantity, SensorReading
from contracts.topics import sensor_topic
from edge.sensors import SensorPayloadError, SensorSample, parse_sensor_message

NOW = datetime(2026, 6, 2, 2, 15, 30, tzinfo=UTC)
TOPIC = sensor_topic("site-7", "dust-1")


def payload(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "schema_version": 1,
        "site_id": "site-7",
        "sensor_id": "dust-1",
        "measured_at": "2026-06-02T02:15:00Z",
        "values": [
            {"quantity": "pm10", "value": 182.5, "unit": "ug/m3"},
            {"quantity": "pm2_5", "value": 71.0, "unit": "ug/m3"},
            {"quantity": "noise_laeq", "value": 68.2, "unit": "dB(A)"},
        ],
    }
    data.update(overrides)
    return data


def _bytes(data: dict[str, Any] | str) -> bytes:
    return (data if isinstance(data, str) else json.dumps(data)).encode()


def test_a_good_reading_becomes_one_sample_per_value() -> None:
    samples = parse_sensor_message(TOPIC, _bytes(payload()), NOW)
    at = datetime(2026, 6, 2, 2, 15, tzinfo=UTC)
    assert samples == [
        SensorSample("site-7", "dust-1", Quantity.PM10, 182.5, at),
        SensorSample("site-7", "dust-1", Quantity.PM2_5, 71.0, at),
        SensorSample("site-7", "dust-1", Quantity.NOISE_LAEQ, 68.2, at),
    ]


def test_the_documented_example_round_trips() -> None:
    reading = SensorReading.model_validate(payload())
    assert parse_sensor_message(TOPIC, reading.to_json(), NOW)[0].value == 182.5


def _value(**v: Any) -> dict[str, Any]:
    return payload(values=[{"quantity": "pm10", "value": 100.0, "unit": "ug/m3", **v}])


BAD: list[tuple[str, str | dict[str, Any], str]] = [
    ("not json", "{not json", "not JSON"),
    ("not utf-8", "\udcff", "not JSON"),
    ("a list", "[1, 2]", "Input should be an object"),
    (
        "missing site",
        {k: v for k, v in payload().items() if k != "site_id"},
        "site_id: Field required",
    ),
    (
        "missing values",
        {k: v for k, v in payload().items() if k != "values"},
        "values: Field required",
    ),
    ("no values", payload(values=[]), "values: List should have at least 1 item"),
    (
        "missing value",
        payload(values=[{"quantity": "pm10", "unit": "ug/m3"}]),
        "values.0.value: Field required",
    ),
    (
        "negative",
        _value(value=-5),
        "values.0.value: Input should be greater than or equal to 0 (got -5)",
    ),
    ("nan", "NAN", "values.0.value: Input should be a finite number"),
    ("infinite", "INF", "values.0.value: Input should be a finite number"),
    ("string value", _value(value="high"), "values.0.value: Input should be a valid number"),
    (
        "wrong unit",
        _value(unit="mg/m3"),
        "pm10 must be in 'ug/m3', got 'mg/m3' (values are not converted)",
    ),
    (
        "noise in ug",
        payload(values=[{"quantity": "noise_laeq", "value": 60, "unit": "ug/m3"}]),
        "noise_laeq must be in 'dB(A)'",
    ),
    (
        "absurd pm10",
        _value(value=250_000),
        "pm10 = 250000.0 ug/m3 is not plausible (at most 10000)",
    ),
    (
        "absurd noise",
        payload(values=[{"quantity": "noise_laeq", "value": 400, "unit": "dB(A)"}]),
        "not plausible (at most 150)",
    ),
    (
        "unknown quantity",
        _value(quantity="co2"),
        "values.0.quantity: Input should be 'pm10', 'pm2_5' or 'noise_laeq'",
    ),
    ("twice", payload(values=[_value()["values"][0]] * 2), "quantity pm10 appears more than once"),
    (
        "naive time",
        payload(measured_at="2026-06-02T02:15:00"),
        "measured_at: timestamp must carry a timezone (UTC)",
    ),
    ("bad time", payload(measured_at="yesterday"), "measured_at: Input should be a valid datetime"),
    ("in the future", payload(measured_at="2026-06-02T03:15:00Z"), "is 3570 s in the future"),
    ("extra key", payload(battery=3.1), "battery: Extra inputs are not permitted"),
    ("wrong version", payload(schema_version=2), "schema_version: Input should be 1"),
    (
        "other site",
        payload(site_id="site-8"),
        "site_id 'site-8' does not match the topic's 'site-7'",
    ),
    (
        "other sensor",
        payload(sensor_id="dust-2"),
        "sensor_id 'dust-2' does not match the topic's 'dust-1'",
    ),
]


@pytest.mark.parametrize(("data", "expected"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_payload_is_refused_with_a_clear_reason(
    data: str | dict[str, Any], expected: str
) -> None:
    if data in ("NAN", "INF"):
        raw = json.dumps(_value(value=0.0)).replace("0.0", "NaN" if data == "NAN" else "Infinity")
        body = raw.encode()
    elif data == "\udcff":
        body = b"\xff\xfe"
    else:
        body = _bytes(data)
    with pytest.raises(SensorPayloadError) as info:
        parse_sensor_message(TOPIC, body, NOW)
    assert info.value.topic == TOPIC
    assert any(expected in p for p in info.value.problems), info.value.problems
    assert str(info.value).startswith(f"sensor message on '{TOPIC}' refused: ")


@pytest.mark.parametrize(
    "topic",
    [
        "civicwatch/v1/sensors/site-7",
        "civicwatch/v1/edges/e/events/c",
        "civicwatch/v1/sensors//x",
        "x",
    ],
)
def test_bad_topic(topic: str) -> None:
    with pytest.raises(SensorPayloadError, match="not a sensor topic"):
        parse_sensor_message(topic, _bytes(payload()), NOW)


def test_clock_skew_is_configurable() -> None:
    late = payload(measured_at=(NOW + timedelta(seconds=100)).isoformat())
    assert parse_sensor_message(TOPIC, _bytes(late), NOW)
    with pytest.raises(SensorPayloadError, match="in the future"):
        parse_sensor_message(TOPIC, _bytes(late), NOW, max_ahead_s=60)


def test_sample_validation() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SensorSample("s", "d", Quantity.PM10, 1.0, datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="finite"):
        SensorSample("s", "d", Quantity.PM10, float("nan"), NOW)
