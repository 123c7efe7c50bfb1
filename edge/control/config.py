"""The edge's ``control:`` block: take cameras and zones from the server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.control import Profile


class ProfileSettings(BaseModel):
    """How a camera of one analysis profile is read, instead of the ``scheduling:`` block's
    rate for the profile (and, for stationary RTSP cameras, decoding due keyframes only)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    analysis_fps: Annotated[float, Field(gt=0.0, le=60.0)]
    """Frames analysed per second."""
    decode: Literal["all", "keyframes"]
    """RTSP decode mode (see the RTSP source's ``decode``)."""


class ControlConfig(BaseModel):
    """Cameras and zone files from the server (retained MQTT config), applied live.

    Without this block (or with ``enabled: false``) the edge runs the cameras of its YAML
    file, as before. With it, the YAML's cameras run until the server's config (or the last
    one applied, kept in ``state_dir``) replaces them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    enabled: bool = False
    """Subscribe to the server's config for this edge and apply it."""
    state_dir: Path = Path("var/edge/control")
    """Where the last applied config (and its zone files) is kept, to start without the server."""
    profiles: dict[Profile, ProfileSettings] = Field(default_factory=dict)
    """Analysis rate and decode mode per profile, overriding the edge's own: by default a
    server camera gets its profile (stationary, road) and the ``scheduling:`` block decides
    its rate, batching lane and decode mode, as for a camera of the YAML file."""
