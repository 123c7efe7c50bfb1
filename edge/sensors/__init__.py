"""IoT sensors (dust PM10 / PM2.5, noise) over MQTT: parsing, routing and rolling means.

Readings arrive on ``civicwatch/v1/sensors/{site_id}/{sensor_id}`` as
:class:`contracts.sensors.SensorReading` JSON. :class:`SensorSubscriber` validates them and
hands :class:`SensorSample` values to a :class:`SensorHub`, from which each camera pipeline
drains the samples of the sites its ``construction_site`` zones name (``site_id``); the
construction rule keeps :class:`RollingWindow` means and raises a case above a limit.
"""

from edge.sensors.hub import SensorHub, SensorInbox
from edge.sensors.samples import SensorPayloadError, SensorSample, parse_sensor_message
from edge.sensors.subscriber import (
    SensorLoginError,
    SensorsConfig,
    SensorSubscriber,
    make_sensor_subscriber,
    sensor_login,
)
from edge.sensors.window import RollingWindow, is_energy_quantity

__all__ = [
    "RollingWindow",
    "SensorHub",
    "SensorInbox",
    "SensorLoginError",
    "SensorPayloadError",
    "SensorSample",
    "SensorSubscriber",
    "SensorsConfig",
    "is_energy_quantity",
    "make_sensor_subscriber",
    "parse_sensor_message",
    "sensor_login",
]
