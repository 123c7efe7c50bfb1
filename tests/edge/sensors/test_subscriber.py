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
from edge.sensors import (
    SensorHub,
    SensorLoginError,
    SensorsConfig,
    SensorSubscriber,
    make_sensor_subscriber,
    sensor_login,
)

PUBLISHER = {"CIVICWATCH_MQTT_USERNAME": "edge-a", "CIVICWATCH_MQTT_PASSWORD": "p"}
SENSORS = {
    "CIVICWATCH_SENSORS_MQTT_USERNAME": "edge-a.sensors",
    "CIVICWATCH_SENSORS_MQTT_PASSWORD": "s",
}


@pytest.mark.parametrize(
    ("environ", "config", "login"),
    [
        ({}, SensorsConfig(), None),  # a broker without accounts: both anonymous
        (SENSORS, SensorsConfig(), "edge-a.sensors"),
        ({**PUBLISHER, **SENSORS}, SensorsConfig(), "edge-a.sensors"),
        (
            {**PUBLISHER, "MY_USER": "edge-a.sensors", "MY_PASS": "s"},
            SensorsConfig(username_env="MY_USER", password_env="MY_PASS"),
            "edge-a.sensors",
        ),
    ],
)
def test_the_subscriber_logs_in_with_its_own_account(
    environ: dict[str, str], config: SensorsConfig, login: str | None
) -> None:
    settings = sensor_login(MqttConfig(), config, environ)
    credentials = settings.credentials(environ)
    assert (credentials.username if credentials else None) == login
    assert (settings.username_env, settings.password_env) == (
        config.username_env,
        config.password_env,
    )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (PUBLISHER, "CIVICWATCH_SENSORS_MQTT_USERNAME is not set"),
        ({**PUBLISHER, "CIVICWATCH_SENSORS_MQTT_USERNAME": ""}, "is not set"),
        (
            {**PUBLISHER, "CIVICWATCH_SENSORS_MQTT_USERNAME": "edge-a"},
            "names the publisher's account edge-a",
        ),
    ],
)
def test_without_a_login_of_its_own_the_edge_runs_without_sensors(
    environ: dict[str, str], message: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 17 follow-up: sharing the publisher's account took its session over."""
    with pytest.raises(SensorLoginError, match=message):
        sensor_login(MqttConfig(), SensorsConfig(), environ)
    hub = SensorHub()
    hub.register("cam1", ["site-7"])
    with caplog.at_level(logging.ERROR, logger="edge.sensors.subscriber"):
        made = make_sensor_subscriber(
            edge_id="edge-a",
            mqtt_config=MqttConfig(),
            config=SensorsConfig(),
            hub=hub,
            environ=environ,
        )
    assert made is None
    assert "edge edge-a: running WITHOUT sensor readings" in caplog.text and message in caplog.text


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


@pytest.mark.integration
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
            # a site no camera watches: not subscribed, never received
            sensor.publish(sensor_topic("site-9", "dust-1"), _reading(99.0, site="site-9"), qos=1)
            deadline = time.monotonic() + 10
            while sub.stats.received < 5 and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)
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
        5,
        2,
        3,
        0,
    )
    assert "values.0.value: Input should be greater than or equal to 0 (got -4.0)" in caplog.text
    assert "not JSON" in caplog.text
    assert "pm10 must be in 'ug/m3', got 'mg/m3'" in caplog.text
