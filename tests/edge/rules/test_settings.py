"""Rule settings: every field described, shared timing fields bounded alike, bad values refused."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from edge.rules.settings import (
    ConstructionSettings,
    CrossDoorSettings,
    MuckTruckSettings,
    RulesSettings,
    SensorLimit,
    StallDwellSettings,
)

MODELS: list[type[BaseModel]] = [
    StallDwellSettings,
    CrossDoorSettings,
    MuckTruckSettings,
    SensorLimit,
    ConstructionSettings,
    RulesSettings,
]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_field_is_described(model: type[BaseModel]) -> None:
    for name, info in model.model_fields.items():
        assert info.description, f"{model.__name__}.{name} has no description"


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (StallDwellSettings, {"update_interval_s": 0}),
        (StallDwellSettings, {"update_interval_s": 3601}),
        (CrossDoorSettings, {"lost_grace_s": -1}),
        (MuckTruckSettings, {"lost_grace_s": 601}),
        (ConstructionSettings, {"update_interval_s": 86_401}),
        (ConstructionSettings, {"cooldown_s": -0.5}),
        (StallDwellSettings, {"cooldown_s": float("nan")}),
        (CrossDoorSettings, {"update_interval_s": float("inf")}),
        (SensorLimit, {"quantity": "pm10", "limit": float("inf")}),
        (SensorLimit, {"quantity": "pm10"}),
        (MuckTruckSettings, {"typo": 1}),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else str(v),
)
def test_bad_values_are_refused(model: type[BaseModel], data: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(data)


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (StallDwellSettings, {"update_interval_s": 3600, "lost_grace_s": 0, "cooldown_s": 86_400}),
        (ConstructionSettings, {"update_interval_s": 86_400, "cooldown_s": 0}),
        (MuckTruckSettings, {"lost_grace_s": 600}),
    ],
    ids=["stall bounds", "construction bounds", "truck bounds"],
)
def test_bounds_are_inclusive(model: type[BaseModel], data: dict[str, object]) -> None:
    settings = model.model_validate(data)
    assert {k: getattr(settings, k) for k in data} == data


def test_shared_timing_fields_share_their_description() -> None:
    cooldowns: list[type[BaseModel]] = [StallDwellSettings, CrossDoorSettings, ConstructionSettings]
    texts = {m.model_fields["cooldown_s"].description for m in cooldowns}
    assert len(texts) == 1
    assert MuckTruckSettings.model_fields["cooldown_s"].description not in texts  # its own
