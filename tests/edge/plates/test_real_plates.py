"""The real plate models on the real photos of ``../shared/data`` (skipped without it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.plates import PlateReader, PlateReading

from .real import load_truth, photo, reader_settings

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def reader(shared_data: Path) -> PlateReader:
    return PlateReader.from_settings(reader_settings(shared_data))


def read(reader: PlateReader, shared: Path, relative: str) -> PlateReading | None:
    return reader.read(photo(shared, relative))


def test_double_row_yellow_plate(reader: PlateReader, shared_data: Path) -> None:
    reading = read(reader, shared_data, "weights/plates/test_images/double_yellow.jpg")
    assert reading is not None
    assert (reading.text, reading.colour, reading.double_row) == ("京EA5331", "yellow", True)
    assert reading.confidence > 0.5
    # the corners frame the plate: wider than tall, inside the crop's neighbourhood
    (x0, y0), (x1, _), (_, y2) = reading.corners[0], reading.corners[1], reading.corners[2]
    assert x1 - x0 > y2 - y0 > 10
    assert reading.crop.shape[1] > reading.crop.shape[0] and reading.crop.dtype == np.uint8


@pytest.mark.parametrize(
    ("relative", "text", "colour"),
    [
        ("weights/plates/test_images/single_yellow.jpg", "皖K66666", "yellow"),
        ("weights/plates/test_images/shi_lin_guan.jpg", "沪A1707领", "black"),
    ],
)
def test_single_row_plates(
    reader: PlateReader, shared_data: Path, relative: str, text: str, colour: str
) -> None:
    reading = read(reader, shared_data, relative)
    assert reading is not None
    assert (reading.text, reading.colour, reading.double_row) == (text, colour, False)


def test_the_truck_box_limits_where_the_plate_is_looked_for(
    reader: PlateReader, shared_data: Path
) -> None:
    image = photo(shared_data, "weights/plates/test_images/double_yellow.jpg")
    inside = reader.read(image, [150, 150, 350, 330])
    assert inside is not None and inside.text == "京EA5331"
    assert inside.corners[:, 0].min() > 150  # in the whole image's pixels
    assert reader.read(image, [0, 0, 150, 120]) is None  # no plate up there


def test_exact_reads_on_the_readable_real_plates(reader: PlateReader, shared_data: Path) -> None:
    """The issue's bar: at least 80 % of the readable plates read exactly, and no plate made
    up where none can be read."""
    truth = load_truth().photos
    readable = [p for p in truth if p.plate is not None]
    exact = [
        p.file for p in readable if (r := read(reader, shared_data, p.file)) and r.text == p.plate
    ]
    assert len(exact) / len(readable) >= 0.8, exact
    for unreadable in (p for p in truth if p.plate is None):
        assert read(reader, shared_data, unreadable.file) is None, unreadable.file
