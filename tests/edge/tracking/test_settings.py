"""Tracker settings: bounds, score order, unknown keys, and the factory keyed on ``type``."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from edge.tracking import (
    ByteTracker,
    ByteTrackSettings,
    SimpleTracker,
    SimpleTrackerSettings,
    StationarySettings,
    TrackerSettings,
    create_tracker,
)


@pytest.mark.parametrize(
    "settings", [{"iou_threshold": 0}, {"max_missed": -1}, {"centroid_max_dist": -1}, {"typo": 1}]
)
def test_bad_settings(settings: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        SimpleTrackerSettings(**settings)


@pytest.mark.parametrize(
    "settings",
    [
        {"low_score": 0.6, "high_score": 0.5},
        {"new_track_score": 0.25},
        {"match_iou": 0},
        {"reverify_every": 0},
        {"max_missed": -1},
        {"stationary": {"after_s": -1}},
        {"stationary": {"max_shift": 0}},
        {"typo": 1},
    ],
)
def test_bad_bytetrack_settings(settings: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ByteTrackSettings.model_validate(settings)


@pytest.mark.parametrize(
    ("data", "kind"),
    [({}, ByteTracker), ({"type": "bytetrack"}, ByteTracker), ({"type": "simple"}, SimpleTracker)],
)
def test_create_tracker_by_type(data: dict[str, str], kind: type) -> None:
    settings = TypeAdapter(TrackerSettings).validate_python(data or {"type": "bytetrack"})
    assert isinstance(create_tracker(settings), kind)


def test_unknown_tracker_type_is_refused() -> None:
    from pydantic import TypeAdapter

    with pytest.raises(ValidationError, match="bytetrack"):
        TypeAdapter(TrackerSettings).validate_python({"type": "sort"})


@pytest.mark.parametrize("model", [ByteTrackSettings, SimpleTrackerSettings, StationarySettings])
def test_every_field_is_described(model: type[BaseModel]) -> None:
    for name, field in model.model_fields.items():
        assert field.description, f"{model.__name__}.{name} has no description"
        assert "  " not in field.description.replace("\n", " ")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_numbers_are_refused(value: str) -> None:
    with pytest.raises(ValidationError):
        StationarySettings(after_s=float(value))
    with pytest.raises(ValidationError):
        ByteTrackSettings(match_iou=float(value))
