"""The edge config's new blocks: cameras may come from the server, clips must fit their ring."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from edge.clips.config import ClipsConfig
from edge.config import EdgeConfig


def _config(**changes: Any) -> EdgeConfig:
    data: dict[str, Any] = {
        "edge_id": "e1",
        "detector": {"type": "yolo", "path": "model.onnx"},
        "model_registry": None,
        "cameras": [],
    }
    data.update(changes)
    return EdgeConfig.model_validate(data)


def test_no_camera_needs_control() -> None:
    with pytest.raises(ValidationError, match="list at least one"):
        _config()
    config = _config(control={"enabled": True, "state_dir": "var/x"})
    assert config.cameras == [] and config.control.state_dir == Path("var/x")
    assert config.control.profiles == {}  # the scheduling block decides the profiles' rates


def test_defaults_keep_a_yaml_edge_as_it_was() -> None:
    config = _config(
        cameras=[{"id": "c", "source": {"type": "file", "path": "x.mp4"}, "zones": "z"}]
    )
    assert not config.control.enabled and not config.clips.enabled
    assert (config.clips.pre_s, config.clips.post_s, config.clips.ring_s) == (10.0, 10.0, 30.0)
    assert config.health.enabled and config.snapshots.max_width == 1280


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"buffer_s": 15, "pre_s": 10, "post_s": 10}, "must hold a whole clip"),
        ({"upload": {"url": "ftp://x"}}, "should match pattern"),
        ({"post_s": 0}, "greater than or equal to 1"),
        ({"pre": 3}, "Extra inputs"),
    ],
)
def test_bad_clip_settings(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ClipsConfig.model_validate(data)
