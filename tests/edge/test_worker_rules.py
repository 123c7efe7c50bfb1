"""Smoke test of the patched worker: sensor readings reach the construction rule, the wire
event carries details and the sensor series."""

from datetime import timedelta
from pathlib import Path

import numpy as np

from contracts import EvidenceKind
from contracts.sensors import Quantity
from edge.outbox import Outbox
from edge.sensors import SensorHub, SensorSample
from edge.types import Frame
from edge.worker import CameraPipeline
from zones.config import parse_zone_text

from .test_worker import T0, ScriptedDetector, _config

ZONES = """
camera_id: cam-1
zones:
  - id: site
    name: Site
    kind: construction_site
    polygon: [[0.0, 0.5], [1.0, 0.5], [1.0, 1.0], [0.0, 1.0]]
    objects: [bare_soil, dust_net]
    site_id: site-7
"""


def test_sensor_case(tmp_path: Path) -> None:
    zones = parse_zone_text(ZONES, source=Path("z.yaml"))
    hub = SensorHub()
    config = _config(tmp_path)
    pipe = CameraPipeline(
        config=config,
        camera=config.cameras[0],
        zones=zones,
        detector=ScriptedDetector(10_000),
        outbox=Outbox(tmp_path / "o.db"),
        sensor_inbox=hub.register("cam-1", ["site-7"]),
    )
    for m in range(-14, 1):
        hub.publish(SensorSample("site-7", "d", Quantity.PM10, 200.0, T0 + timedelta(minutes=m)))
    (event,) = pipe.process(Frame("cam-1", 0, T0, np.zeros((480, 640, 3), np.uint8)))
    assert event.details["pm10_mean_ugm3"] == 200.0 and event.label == "pm10"
    assert [e.kind for e in event.evidence][-1] is EvidenceKind.SENSOR_SERIES
