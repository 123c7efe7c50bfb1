"""The sensor subscriber against a real Mosquitto: good readings routed, bad ones refused."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from civicwatch.services import MosquittoProcess
from contracts.sensors import Quantity
from contracts.topics import sensor_topic
from edge.mqtt import MqttConfig
from edge.sensors import SensorHub, SensorsConfig, SensorSubscriber

pytestmark = pytest.mark.integration


def _reading(value: float, site: str = "site-7", unit: str = "ug/m3") -> bytes:
    return json.dumps(
        {
            "schema_version": 1,
            "site_id": site,
            "sensor_id": "dust-1",
            "measured_at": datetime.now(UTC).isoformat(),
            "values": [{"quantity": "pm10", "value": value, "unit": unit}],
        }
    ).encode()


def test_readings_over_mqtt(
    mqtt_broker: MosquittoProcess, caplog: pytest.LogCaptureFixture
) -> None:
    hub = SensorHub()
    inbox = hub.register("cam1", ["site-7"])
    sub = SensorSubscriber(
        edge_id="edge-sensors",
        mqtt_config=MqttConfig(host=mqtt_broker.host, port=mqtt_broker.port),
        config=SensorsConfig(),
        hub=hub,
    )
    sub.start()
    try:
        assert sub.subscribed.wait(10), "no subscription"
        sensor = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        sensor.connect(mqtt_broker.host, mqtt_broker.port)
        sensor.loop_start()
        topic = sensor_topic("site-7", "dust-1")
        with caplog.at_level(logging.WARNING, logger="edge.sensors.subscriber"):
            for body in (
                _reading(120.0),
                _reading(-4.0),  # absurd
                b"{not json",
                _reading(130.0, unit="mg/m3"),  # wrong unit
                _reading(140.0),  # still handled after the bad ones
            ):
                sensor.publish(topic, body, qos=1).wait_for_publish(5)
            sensor.publish(sensor_topic("site-9", "dust-1"), _reading(99.0, site="site-9"), qos=1)
            deadline = time.monotonic() + 10
            while sub.stats.received < 6 and time.monotonic() < deadline:
                time.sleep(0.05)
        sensor.loop_stop()
        sensor.disconnect()
    finally:
        sub.stop()
    samples = inbox.drain()
    assert [(x.quantity, x.value) for x in samples] == [
        (Quantity.PM10, 120.0),
        (Quantity.PM10, 140.0),
    ]
    assert (sub.stats.received, sub.stats.accepted, sub.stats.refused, sub.stats.unrouted) == (
        6,
        3,
        3,
        1,
    )
    assert "values.0.value: Input should be greater than or equal to 0 (got -4.0)" in caplog.text
    assert "not JSON" in caplog.text
    assert "pm10 must be in 'ug/m3', got 'mg/m3'" in caplog.text
