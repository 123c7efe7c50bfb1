"""RuleEvent validation and the normalised box; RulesSettings validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from contracts.events import EventPhase, ViolationType
from edge.rules import RuleEvent, RulesSettings, StallDwellSettings

T0 = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)


def _event(**overrides: Any) -> RuleEvent:
    data: dict[str, Any] = {
        "event_id": "0123456789abcdef0123456789abcdef",
        "phase": EventPhase.START,
        "camera_id": "cam1",
        "zone_id": "pavement",
        "rule": "stall_dwell",
        "violation_type": ViolationType.STREET_STALL,
        "label": "stall",
        "confidence": 0.8,
        "xyxy": np.array([100, 200, 300, 400], dtype=np.float32),
        "tracker_id": 1,
        "first_seen": T0,
        "last_seen": T0 + timedelta(seconds=10),
        "dwell_s": 10.0,
    }
    data.update(overrides)
    return RuleEvent(**data)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"event_id": "not-hex"}, "event_id"),
        ({"event_id": "0123456789ABCDEF0123456789ABCDEF"}, "event_id"),
        ({"event_id": ""}, "event_id"),
        ({"first_seen": datetime(2026, 1, 5)}, "first_seen must be timezone-aware"),
        ({"last_seen": T0 - timedelta(seconds=1)}, "last_seen is before first_seen"),
        ({"confidence": 1.5}, "confidence"),
        ({"dwell_s": -1.0}, "dwell_s"),
        ({"dwell_s": float("nan")}, "dwell_s"),
        ({"xyxy": np.zeros(3, dtype=np.float32)}, "xyxy"),
        ({"xyxy": np.array([0, 0, np.inf, 1], dtype=np.float32)}, "xyxy"),
    ],
)
def test_bad_event(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _event(**overrides)


def test_box_is_a_read_only_copy() -> None:
    box = np.array([100, 200, 300, 400], dtype=np.float64)
    event = _event(xyxy=box)
    box[0] = 0
    assert event.xyxy.tolist() == [100, 200, 300, 400]
    assert event.xyxy.dtype == np.float32
    with pytest.raises(ValueError):
        event.xyxy[0] = 1


@pytest.mark.parametrize(
    ("xyxy", "expected"),
    [
        ([100, 200, 300, 400], [0.1, 0.4, 0.3, 0.8]),
        ([-10, -5, 1100, 600], [0.0, 0.0, 1.0, 1.0]),
    ],
)
def test_xyxyn(xyxy: list[float], expected: list[float]) -> None:
    got = _event(xyxy=np.array(xyxy, dtype=np.float32)).xyxyn((1000, 500))
    assert got.dtype == np.float32
    assert got.tolist() == pytest.approx(expected)


def test_xyxyn_bad_resolution() -> None:
    with pytest.raises(ValueError, match="resolution_wh"):
        _event().xyxyn((0, 500))


def test_settings_defaults_and_bounds() -> None:
    s = RulesSettings()
    assert s.timezone == "Asia/Shanghai" and s.tzinfo().key == "Asia/Shanghai"
    assert s.stall_dwell.update_interval_s == 30.0
    with pytest.raises(ValidationError, match="unknown timezone 'Mars/Olympus'"):
        RulesSettings(timezone="Mars/Olympus")
    with pytest.raises(ValidationError, match="unknown timezone"):
        RulesSettings(timezone="../etc/passwd")
    with pytest.raises(ValidationError, match="Extra inputs"):
        RulesSettings.model_validate({"stall": {}})
    with pytest.raises(ValidationError):
        StallDwellSettings(update_interval_s=0)
    with pytest.raises(ValidationError):
        StallDwellSettings(lost_grace_s=-1)
