"""Plate form, the vote over frames, and the views a truck case keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from edge.plates import PlateReading, vote
from edge.plates.case import NO_PLATE_READER, PLATE_READ, CasePlate, TruckViews
from edge.plates.reader import plausible, truck_region

T0 = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("京EA5331", True),
        ("晋H71821", True),
        ("皖AD12345", True),  # new energy: six after the letter
        ("沪A1707领", True),
        ("粤B1234挂", True),
        ("", False),
        ("A71113", False),  # no province
        ("晋H7182", False),  # too short
        ("晋H718211X", False),  # too long
        ("晋1H7182", False),  # a digit where the office letter goes
        ("晋HA领123", False),  # a kind in the middle
    ],
)
def test_plausible(text: str, ok: bool) -> None:
    assert plausible(text) is ok


def test_truck_region_widens_and_clips() -> None:
    assert truck_region([100, 100, 300, 200], (1000, 1000)) == (80, 90, 320, 210)
    assert truck_region([0, 0, 300, 200], (310, 205)) == (0, 0, 310, 205)


def reading(text: str, confidence: float) -> PlateReading:
    return PlateReading(
        text=text,
        colour="yellow",
        confidence=confidence,
        corners=np.zeros((4, 2), np.float32),
        double_row=False,
        crop=np.zeros((4, 8, 3), np.uint8),
        upright=np.zeros((4, 8, 3), np.uint8),
    )


def test_vote_nothing_read() -> None:
    assert vote([]) is None
    assert vote([None, None]) is None


def test_vote_majority_wins_over_confidence() -> None:
    a1, a2, b = reading("晋H71821", 0.6), reading("晋H71821", 0.7), reading("晋H71827", 0.95)
    result = vote([a1, None, b, a2])
    assert result is not None
    assert result.reading is a2 and (result.agree, result.frames) == (2, 4)


def test_vote_tie_goes_to_the_surer_text() -> None:
    a, b = reading("晋H71821", 0.6), reading("晋H71827", 0.9)
    result = vote([a, b])
    assert result is not None and result.reading is b and result.agree == 1


def test_a_reading_needs_text_and_a_confidence() -> None:
    with pytest.raises(ValueError, match="needs text"):
        reading("", 0.5)
    with pytest.raises(ValueError, match="confidence"):
        reading("晋H71821", 1.5)


def test_truck_views_keep_the_best_frames() -> None:
    image = np.zeros((100, 200, 3), np.uint8)
    views = TruckViews(2)
    for k, score in enumerate([0.3, 0.9, 0.1, 0.5]):
        views.offer(score, T0 + timedelta(seconds=k), image, [10, 10, 60, 40])
    assert len(views) == 2
    assert [v.score for v in views._views] == [0.9, 0.5]
    assert views._views[0].image.shape == (36, 60, 3)  # the box widened by a tenth
    views.offer(0.7, T0, image, [300, 10, 400, 40])  # off the image: nothing to keep
    assert [v.score for v in views._views] == [0.9, 0.5]
    with pytest.raises(ValueError, match="at least 1"):
        TruckViews(0)


def test_case_plate_details() -> None:
    assert CasePlate(NO_PLATE_READER).details == {"plate_status": NO_PLATE_READER}
    assert CasePlate(NO_PLATE_READER).crop is None
    result = vote([reading("晋H71821", 0.8123), None])
    assert CasePlate(PLATE_READ, result, T0).details == {
        "plate_status": "read",
        "plate": "晋H71821",
        "plate_colour": "yellow",
        "plate_confidence": 0.812,
        "plate_frames": "1/2",
    }
    with pytest.raises(ValueError, match="disagree"):
        CasePlate(PLATE_READ)
    with pytest.raises(ValueError, match="time of its frame"):
        CasePlate(PLATE_READ, result)
