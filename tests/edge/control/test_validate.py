"""Validation of a config message as a whole: every problem listed, nothing half-accepted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge.control.config import ControlConfig
from edge.control.validate import ConfigRefusedError, validate_config
from tests.edge.control.support import BOWTIE, KERB, PAVEMENT, camera, config_message

URL = "rtsp://user:secret@10.0.0.7/stream"


def _validate(payload: bytes | str, tmp_path: Path) -> object:
    return validate_config(
        payload, edge_id="edge-1", control=ControlConfig(enabled=True), zones_dir=tmp_path
    )


def test_a_good_config_becomes_camera_specs(tmp_path: Path) -> None:
    message = config_message(
        "edge-1",
        3,
        camera("cam-1", URL, PAVEMENT, zone_version=4),
        camera("cam-2", URL, KERB, profile="road", enabled=False),
    )
    validated = validate_config(
        message.to_json(), edge_id="edge-1", control=ControlConfig(), zones_dir=tmp_path
    )
    one, two = validated.cameras["cam-1"], validated.cameras["cam-2"]
    # by default the edge's scheduling block decides a profile's rate (and decode mode)
    assert (one.config.profile, two.config.profile) == ("stationary", "road")
    assert "analysis_fps" not in one.config.model_fields_set and not two.config.enabled
    assert one.config.zones == tmp_path / "cam-1.v4.yaml"
    assert [z.id for z in one.zones.zones] == ["pavement"] and one.zone_version == 4
    control = ControlConfig.model_validate(
        {"profiles": {"stationary": {"analysis_fps": 2.0, "decode": "all"}}}
    )
    tuned = validate_config(
        message.to_json(), edge_id="edge-1", control=control, zones_dir=tmp_path
    )
    spec = tuned.cameras["cam-1"].config
    assert spec.analysis_fps == 2.0 and spec.source.decode == "all"  # type: ignore[union-attr]
    assert "analysis_fps" not in tuned.cameras["cam-2"].config.model_fields_set


def test_every_problem_is_listed_and_no_password_shown(tmp_path: Path) -> None:
    message = config_message(
        "edge-1",
        3,
        camera("cam-1", URL, BOWTIE),
        camera("cam-2", "http://user:secret@host/x", PAVEMENT),
        camera("cam-3", URL, {**PAVEMENT, "objects": ["stal"]}),
        camera("cam-4", URL, PAVEMENT),
    )
    data = json.loads(message.to_json())
    data["cameras"][3]["zones_yaml"] = data["cameras"][3]["zones_yaml"].replace("cam-4", "cam-9")
    with pytest.raises(ConfigRefusedError) as info:
        _validate(json.dumps(data), tmp_path)
    problems = info.value.problems
    assert any("cam-1 (zones v1)" in p and "self-intersecting" in p for p in problems), problems
    assert any("cam-2" in p and "rtsp://" in p for p in problems), problems
    assert any("cam-3" in p and "did you mean 'stall'" in p for p in problems), problems
    assert any("cam-4" in p and "for camera 'cam-9'" in p for p in problems), problems
    assert "secret" not in str(info.value)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"{", "edge config is not JSON"),
        (
            json.dumps({"schema_version": 2, "edge_id": "edge-1", "new": 1}),
            "schema version 2, newer than this edge understands",
        ),
        (json.dumps({"edge_id": "edge-1"}), "edge config: version: Field required"),
    ],
)
def test_unusable_messages(payload: bytes | str, message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigRefusedError, match=message):
        _validate(payload, tmp_path)


def test_a_config_for_another_edge_is_refused(tmp_path: Path) -> None:
    message = config_message("edge-2", 1)
    with pytest.raises(ConfigRefusedError, match="for edge 'edge-2', not 'edge-1'"):
        _validate(message.to_json(), tmp_path)
