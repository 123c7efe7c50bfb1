"""The muck-truck rule and the plate reader: what a truck case says about the plate."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from contracts.events import EvidenceKind
from edge.plates import PlateReader
from edge.plates.case import NO_PLATE_READER, PLATE_READER_NOT_LOADED
from edge.rules import ImageAttachment, MuckTruckRule, RuleEvent, RuleFrame, RuleResources
from edge.types import ImageArray
from tests.edge.plates.real import photo, reader_settings
from zones.geometry import ZoneGeometry

from .helpers import RES, T0, Obj, detections, settings
from .test_trucks import OPEN, BrightnessCover, road

TRUCK = (300.0, 100.0, 800.0, 480.0)  # anchor (550, 480): in the road zone
REGION_HW = (171, 300)  # the plate region: the middle of the box, below 55 % of its height
SHA = "0" * 64
CONFIGURED = {
    "detector": {"path": "plate_detect.onnx", "sha256": SHA},
    "recogniser": {"path": "plate_rec.onnx", "sha256": SHA},
}


def rule(plate_reader: PlateReader | None = None, configured: Any = None) -> MuckTruckRule:
    z = road()
    muck = settings().muck_truck.model_validate({"plate_reader": configured})
    return MuckTruckRule(
        z,
        ZoneGeometry(z, RES),
        "cam1",
        settings().model_copy(update={"muck_truck": muck}),
        RuleResources(cover_classifier=BrightnessCover(), plate_reader=plate_reader),
    )


def truck_frame(plate: ImageArray | None) -> ImageArray:
    """A still truck: its load open (dark) above, ``plate`` pasted low in its box."""
    image = np.full((RES[1], RES[0], 3), 128, dtype=np.uint8)
    x1, y1, x2, y2 = (int(v) for v in TRUCK)
    image[y1:y2, x1:x2] = 90
    image[y1 : y1 + 230, x1:x2] = OPEN
    if plate is not None:
        h, w = plate.shape[:2]
        image[y2 - h : y2, 425 : 425 + w] = plate
    return image


def start_of(r: MuckTruckRule, image: ImageArray, frames: int = 6) -> RuleEvent:
    events: list[RuleEvent] = []
    for k in range(frames):
        ts = T0 + timedelta(seconds=0.5 * k)
        events += r.update(RuleFrame(detections(Obj(1, TRUCK, "truck", 0.9)), ts, image))
    starts = [e for e in events if e.phase.value == "start"]
    assert len(starts) == 1
    return starts[0]


def plate_attachment(event: RuleEvent) -> ImageAttachment:
    kinds = [a.kind for a in event.attachments]
    assert kinds == [EvidenceKind.LOAD, EvidenceKind.PLATE]
    attachment = event.attachments[1]
    assert isinstance(attachment, ImageAttachment)
    return attachment


@pytest.mark.parametrize(
    ("configured", "status"),
    [(None, NO_PLATE_READER), (CONFIGURED, PLATE_READER_NOT_LOADED)],
    ids=["not configured", "configured, not loaded"],
)
def test_without_a_reader_the_case_says_why(configured: Any, status: str) -> None:
    start = start_of(rule(configured=configured), truck_frame(None))
    assert start.details["plate_status"] == status
    assert "plate" not in start.details and "plate_colour" not in start.details
    # the plate region of the box is the evidence, as before
    assert plate_attachment(start).image.shape[:2] == REGION_HW


@pytest.fixture(scope="module")
def reader(shared_data: Path) -> PlateReader:
    return PlateReader.from_settings(reader_settings(shared_data))


@pytest.mark.shared_data
def test_a_truck_case_carries_the_plate_read(reader: PlateReader, shared_data: Path) -> None:
    plate = photo(shared_data, "weights/plates/test_images/double_yellow.jpg")[180:330, 130:380]
    start = start_of(rule(reader), truck_frame(plate))
    details = start.details
    assert details["plate_status"] == "read"
    assert (details["plate"], details["plate_colour"]) == ("京EA5331", "yellow")
    assert details["plate_frames"] == "3/3"  # the three frames that voted uncovered
    assert 0.5 < float(details["plate_confidence"]) <= 1.0
    crop = plate_attachment(start)
    assert crop.image.shape[0] < 100 and crop.image.shape[1] < 150  # the plate, not the region
    assert crop.captured_at <= start.last_seen


@pytest.mark.shared_data
def test_a_truck_without_a_plate_in_view(reader: PlateReader) -> None:
    start = start_of(rule(reader), truck_frame(None))
    assert start.details["plate_status"] == "not read (no plate found in 3 frame(s))"
    assert "plate" not in start.details
    assert plate_attachment(start).image.shape[:2] == REGION_HW
