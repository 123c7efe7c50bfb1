from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from edge.sources import (
    FileSource,
    FileSourceConfig,
    RtspSource,
    RtspSourceConfig,
    SourceConfig,
    SourceState,
    open_source,
)

SECRET = "s3cr3t-pw"
URL = f"rtsp://admin:{SECRET}@10.0.0.7:554/ch1"


class Camera(BaseModel):
    """How a camera config embeds a source (as the worker's config does)."""

    model_config = ConfigDict(extra="forbid")
    id: str
    source: SourceConfig


def test_discriminated_by_type() -> None:
    adapter: TypeAdapter[RtspSourceConfig | FileSourceConfig] = TypeAdapter(SourceConfig)
    rtsp = adapter.validate_python({"type": "rtsp", "url": URL})
    assert isinstance(rtsp, RtspSourceConfig)
    assert rtsp.transport == "tcp"
    assert rtsp.fast_probe and rtsp.decode == "all"
    file = adapter.validate_python({"type": "file", "path": "clip.mp4", "loop": True})
    assert isinstance(file, FileSourceConfig)
    assert file.path == Path("clip.mp4") and file.loop and not file.realtime


def test_open_source_builds_the_right_source() -> None:
    rtsp = open_source("c1", RtspSourceConfig(type="rtsp", url=URL))
    file = open_source("c2", FileSourceConfig(type="file", path=Path("x.mp4")))
    assert isinstance(rtsp, RtspSource) and rtsp.live
    assert isinstance(file, FileSource) and not file.live
    assert rtsp.state is SourceState.IDLE and file.state is SourceState.IDLE
    realtime = FileSourceConfig(type="file", path=Path("x.mp4"), realtime=True)
    assert open_source("c3", realtime).live


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ({"type": "rtsp"}, "url"),
        ({"type": "rtsp", "url": URL, "bogus": 1}, "Extra inputs are not permitted"),
        ({"type": "rtsp", "url": f"http://admin:{SECRET}@h/x"}, "rtsp:// or rtsps://"),
        ({"type": "rtsp", "url": f"rtsp://admin:{SECRET}@/x"}, "no host"),
        ({"type": "rtsp", "url": URL, "transport": "sctp"}, "transport"),
        ({"type": "rtsp", "url": URL, "open_timeout_s": 0}, "open_timeout_s"),
        ({"type": "rtsp", "url": URL, "watchdog_s": -1}, "watchdog_s"),
        (
            {"type": "rtsp", "url": URL, "backoff_initial_s": 10, "backoff_max_s": 5},
            "backoff_max_s",
        ),
        ({"type": "rtsp", "url": URL, "read_timeout_s": 20, "watchdog_s": 10}, "watchdog"),
        ({"type": "webcam", "url": URL}, "does not match any of the expected tags"),
        ({"url": URL}, "Unable to extract tag"),
        ({"type": "file"}, "path"),
        ({"type": "file", "path": "a.mp4", "loop": "sometimes"}, "loop"),
        ({"type": "file", "path": "a.mp4", "url": URL}, "Extra inputs are not permitted"),
    ],
)
def test_bad_config_is_refused_without_leaking_the_password(
    source: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValidationError) as info:
        Camera.model_validate({"id": "c1", "source": source})
    text = str(info.value)
    assert problem in text
    assert SECRET not in text
    assert SECRET not in repr(info.value.errors())


def test_repr_and_str_hide_the_password() -> None:
    cfg = RtspSourceConfig(type="rtsp", url=URL)
    camera = Camera(id="c1", source=cfg)
    for text in (repr(cfg), str(cfg), repr(camera), str(camera)):
        assert SECRET not in text
        assert "rtsp://***@10.0.0.7:554/ch1" in text
    assert cfg.url == URL  # the real URL is still there for connecting


def test_every_field_is_documented() -> None:
    for model in (RtspSourceConfig, FileSourceConfig):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
