"""The control messages: round trips, a newer schema refused in words, bad shapes refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from contracts.control import (
    CONTROL_SCHEMA_VERSION,
    MAX_CONFIG_BYTES,
    ApplyState,
    CameraConfigStatus,
    ConfigStatus,
    ControlCamera,
    ControlMessageError,
    EdgeConfigMessage,
    Profile,
    SnapshotMessage,
    SnapshotRequest,
)

NOW = datetime(2025, 6, 2, 2, 15, tzinfo=UTC)
ZONES = "camera_id: cam-1\nzones: []\n"


def _camera(camera_id: str = "cam-1", **changes: object) -> ControlCamera:
    fields: dict[str, object] = {
        "camera_id": camera_id,
        "name": "North gate",
        "stream_url": "rtsp://admin:secret@10.0.0.7/stream",
        "profile": Profile.STATIONARY,
        "enabled": True,
        "zones_yaml": ZONES,
        "zone_version": 2,
        "reference_sha256": "a" * 64,
    }
    fields.update(changes)
    return ControlCamera.model_validate(fields)


def _config(*cameras: ControlCamera) -> EdgeConfigMessage:
    return EdgeConfigMessage(edge_id="edge-1", version=4, issued_at=NOW, cameras=list(cameras))


def test_config_round_trips() -> None:
    message = _config(_camera(), _camera("cam-2", profile=Profile.ROAD, enabled=False))
    again = EdgeConfigMessage.from_json(message.to_json())
    assert again == message
    assert again.camera("cam-2").profile is Profile.ROAD
    with pytest.raises(KeyError, match="no camera 'cam-3'"):
        again.camera("cam-3")


def test_stream_url_is_not_in_the_repr() -> None:
    assert "secret" not in repr(_config(_camera()))


def test_newer_schema_is_refused_in_words() -> None:
    data = json.loads(_config(_camera()).to_json())
    data["schema_version"] = CONTROL_SCHEMA_VERSION + 1
    data["new_key"] = True  # a newer schema may carry keys this one does not know
    with pytest.raises(ControlMessageError, match="newer than this edge understands"):
        EdgeConfigMessage.from_json(json.dumps(data))


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"not json", "edge config is not JSON"),
        (b"[1, 2]", "edge config is not a JSON object"),
        (b" " * (MAX_CONFIG_BYTES + 1), "larger than"),
    ],
)
def test_unusable_config_payloads(payload: bytes, message: str) -> None:
    with pytest.raises(ControlMessageError, match=message):
        EdgeConfigMessage.from_json(payload)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": 0}, "greater than or equal to 1"),
        ({"edge_id": "edge 1"}, "should match pattern"),
        ({"extra": 1}, "Extra inputs are not permitted"),
        ({"issued_at": "2025-06-02T02:15:00"}, "timezone"),
    ],
)
def test_bad_configs_are_refused(change: dict[str, object], message: str) -> None:
    data = json.loads(_config().to_json())
    data.update(change)
    with pytest.raises(ValidationError, match=message):
        EdgeConfigMessage.from_json(json.dumps(data))


def test_duplicate_cameras_are_refused() -> None:
    with pytest.raises(ValidationError, match="duplicate camera ids: cam-1"):
        _config(_camera(), _camera())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"zone_version": 0}, "greater than or equal to 1"),
        ({"profile": "highway"}, "'stationary' or 'road'"),
        ({"reference_sha256": "A" * 64}, "64 lowercase hexadecimal"),
        ({"name": ""}, "at least 1 character"),
    ],
)
def test_bad_cameras_are_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _camera("cam-1", **change)


def test_snapshot_request_and_answer_round_trip() -> None:
    request = SnapshotRequest(request_id="r1", edge_id="edge-1", camera_id=None, requested_at=NOW)
    assert SnapshotRequest.from_json(request.to_json()) == request
    answer = SnapshotMessage(
        edge_id="edge-1",
        camera_id="cam-1",
        request_id="r1",
        captured_at=NOW,
        width=1280,
        height=720,
        sha256="b" * 64,
        jpeg_base64="AAAA",
    )
    assert SnapshotMessage.from_json(answer.to_json()) == answer
    assert "AAAA" not in repr(answer)
    with pytest.raises(ControlMessageError, match="too large"):
        SnapshotRequest.from_json(b" " * 5000)


def test_status_error_exactly_when_refused() -> None:
    cams = [CameraConfigStatus(camera_id="cam-1", zone_version=2, enabled=True)]
    applied = ConfigStatus(
        edge_id="edge-1",
        received_version=4,
        state=ApplyState.APPLIED,
        running_version=4,
        source="server",
        cameras=cams,
        reported_at=NOW,
    )
    assert ConfigStatus.from_json(applied.to_json()) == applied
    with pytest.raises(ValidationError, match="exactly when the state is 'refused'"):
        ConfigStatus.model_validate({**applied.model_dump(), "state": "refused"})
    refused = ConfigStatus(
        edge_id="edge-1",
        received_version=5,
        state=ApplyState.REFUSED,
        error="cam-1: zone 'a' polygon is self-intersecting",
        running_version=4,
        source="server",
        cameras=cams,
        reported_at=NOW,
    )
    assert ConfigStatus.from_json(refused.to_json()).error == refused.error
