"""RuleEvent validation and the normalised box; RulesSettings validation."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from contracts.events import EventPhase, EvidenceKind, ViolationType
from contracts.sensors import SensorSeries
from edge.rules import (
    ImageAttachment,
    JsonAttachment,
    RuleEvent,
    RulesSettings,
    StallDwellSettings,
    attachment_items,
)

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
        ({"tracker_id": -2}, "tracker_id"),
        ({"details": {"Shop": "x"}}, "not a lowercase identifier"),
        ({"details": {"share": float("nan")}}, "must be finite"),
        ({"details": {"flag": True}}, "string or a number"),
        ({"details": {"items": [1, 2]}}, "string or a number"),
        ({"details": {f"k{i}": i for i in range(33)}}, "at most 32 details"),
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


def test_details_are_a_read_only_copy() -> None:
    details: dict[str, str | float | int] = {"shop_id": "SH-1", "share": 0.25, "objects": 3}
    event = _event(details=details)
    details["shop_id"] = "other"
    assert dict(event.details) == {"shop_id": "SH-1", "share": 0.25, "objects": 3}
    with pytest.raises(TypeError):
        event.details["x"] = 1  # type: ignore[index]


def test_attachments_become_evidence_items() -> None:
    image = np.full((40, 80, 3), 90, dtype=np.uint8)
    series = SensorSeries(
        site_id="site-7",
        quantity="pm10",
        unit="ug/m3",
        statistic="mean",
        window_s=900,
        limit=150,
        value=180.5,
        window_end=T0,
        points=[],
    )
    event = _event(
        attachments=(
            ImageAttachment(EvidenceKind.LOAD, image, T0),
            JsonAttachment(EvidenceKind.SENSOR_SERIES, series, T0),
        )
    )
    image[:] = 0  # the attachment kept its own copy
    load, sensor = attachment_items(event, jpeg_quality=90)
    assert (load.kind, load.content_type) == (EvidenceKind.LOAD, "image/jpeg")
    assert load.data[:3] == b"\xff\xd8\xff" and load.sha256 == hashlib.sha256(load.data).hexdigest()
    assert (sensor.kind, sensor.content_type) == (EvidenceKind.SENSOR_SERIES, "application/json")
    document = json.loads(sensor.data)
    assert document["value"] == 180.5 and document["quantity"] == "pm10"
    assert SensorSeries.model_validate(document) == series
    assert load.ref().byte_size == len(load.data)


def test_bad_attachments() -> None:
    with pytest.raises(ValueError, match="HxWx3"):
        ImageAttachment(EvidenceKind.LOAD, np.zeros((4, 4), dtype=np.uint8), T0)
    with pytest.raises(ValueError, match="timezone-aware"):
        ImageAttachment(
            EvidenceKind.LOAD, np.zeros((4, 4, 3), dtype=np.uint8), datetime(2026, 1, 1)
        )


@pytest.mark.parametrize(
    "data",
    [
        {"cross_door": {"cooldown_s": -1}},
        {"muck_truck": {"window": 3, "votes": 4}},
        {"muck_truck": {"uncovered_p": 1.0}},
        {"construction": {"max_bare_share": 0}},
        {"construction": {"sensor_limits": [{"quantity": "pm1", "limit": 10}]}},
        {"construction": {"sensor_limits": [{"quantity": "pm10", "limit": -5}]}},
        {"construction": {"sensor_limits": [{"quantity": "pm10", "limit": 150, "hours": ["7-9"]}]}},
        {"stall_dwell": {"group_gap": -0.1}},
        {"muck_truck": {"cover_modle": "x.onnx"}},
    ],
)
def test_bad_rule_settings(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RulesSettings.model_validate(data)


def test_default_sensor_limits() -> None:
    limits = RulesSettings().construction.sensor_limits
    assert [(lim.quantity.value, lim.limit, lim.window_s) for lim in limits] == [
        ("pm10", 150.0, 900.0),
        ("pm2_5", 75.0, 900.0),
        ("noise_laeq", 70.0, 900.0),
        ("noise_laeq", 55.0, 900.0),
    ]
    assert [str(w) for w in limits[3].hours] == ["22:00-06:00"]
