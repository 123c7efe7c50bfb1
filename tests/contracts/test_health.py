"""Health samples: round trip, bounds, size limit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from contracts.health import CameraHealth, CameraState, EdgeHealth

NOW = datetime(2025, 6, 2, 2, 15, tzinfo=UTC)


def _camera(**changes: object) -> CameraHealth:
    fields: dict[str, object] = {
        "camera_id": "cam-1",
        "state": CameraState.RUNNING,
        "frames_received": 100,
        "frames_analysed": 20,
        "frames_dropped": 1,
        "decode_errors": 0,
        "reconnects": 1,
        "last_frame_age_s": 0.2,
        "detector_latency_p50_ms": 35.0,
        "frozen": False,
        "frozen_for_s": 0.0,
        "view_similarity": 0.93,
        "reference_sha256": "c" * 64,
    }
    fields.update(changes)
    return CameraHealth.model_validate(fields)


def test_round_trip() -> None:
    sample = EdgeHealth(
        edge_id="edge-1",
        sampled_at=NOW,
        uptime_s=12.5,
        config_version=3,
        cameras=[_camera(), _camera(camera_id="cam-2", view_similarity=None, state="down")],
    )
    assert EdgeHealth.from_json(sample.to_json()) == sample


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"frames_received": -1}, "greater than or equal to 0"),
        ({"view_similarity": 1.5}, "less than or equal to 1"),
        ({"state": "sleeping"}, "'running', 'connecting', 'down' or 'disabled'"),
        ({"fps": 3}, "Extra inputs"),
    ],
)
def test_bad_samples_are_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _camera(**change)


def test_oversized_sample_is_refused() -> None:
    with pytest.raises(ValueError, match="too large"):
        EdgeHealth.from_json(b" " * (1024 * 1024 + 1))
