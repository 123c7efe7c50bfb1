"""The ``scheduling:`` block of the edge config: batching, due-time spreading, change gating,
and the analysis profiles of cameras (``stationary``, ``road``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from edge.detectors import DetectorConfig

Profile = Literal["stationary", "road"]
"""What a camera watches: ``stationary`` (stalls, cross-door, construction: a look every few
seconds) or ``road`` (trucks passing: several frames a second)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class GatingConfig(_Model):
    """Skip inference on a frame whose zones did not change since the last inference.

    The rules still get the frame, with the detections of the last inference (the scene is
    the same), so dwell times go on; a stationary violation is never hidden: inference runs
    again at least every ``max_skip_s`` (and never less often than half the shortest positive
    ``dwell_s`` of the camera's zones), whatever the pixels say.
    """

    enabled: bool = False
    """Gate inference on stationary-profile cameras (road cameras are never gated)."""
    thumb_width: int = Field(160, ge=16, le=1280)
    """Width in pixels of the grey thumbnail frames are compared on (height keeps the aspect)."""
    pixel_delta: int = Field(18, ge=1, le=255)
    """A thumbnail pixel changed when its grey level moved more than this (above sensor noise
    and compression flicker)."""
    changed_share: float = Field(0.003, gt=0.0, le=1.0)
    """The frame changed when more than this share of the zones' pixels changed."""
    margin: float = Field(0.05, ge=0.0, le=0.5)
    """Zones are widened by this fraction of the frame's width before comparing (an object
    standing in a zone has most of its body above the zone's line)."""
    max_skip_s: float = Field(20.0, gt=0.0, le=600.0)
    """Run inference at least this often (seconds of frame time) even when nothing changed."""


class SchedulingConfig(_Model):
    """How cameras share the detector and when they look."""

    max_batch: int = Field(1, ge=1, le=256)
    """Frames of different cameras run through one inference call, up to this many (and up to
    the detector's own max_batch); 1: every camera calls the detector on its own."""
    max_wait_ms: float = Field(0.0, ge=0.0, le=2000.0)
    """Longest a frame waits for other cameras' frames before its batch runs. 0: what waits runs
    as soon as the detector is free, and frames that arrive meanwhile form the next batch (no
    added latency; right for a CPU, where a batch saves no time per frame); on a GPU, 10-50 ms
    gathers fuller batches."""
    spread: bool = True
    """Put each camera's looks on a grid of its own phase (from its id), so that cameras with the
    same rate do not all look, decode and infer at the same moment."""
    stationary_look_s: float = Field(4.0, gt=0.0, le=60.0)
    """Seconds between looks of a `profile: stationary` camera without its own analysis_fps.
    Keep it under the rules' lost_grace_s (10 s) and inertia x look under dwell_s: see
    configs/rules.md."""
    road_fps: float = Field(5.0, gt=0.0, le=30.0)
    """Frames per second of a `profile: road` camera without its own analysis_fps (a passing
    truck needs 5 sure votes)."""
    gating: GatingConfig = Field(default_factory=GatingConfig)
    """Change gating of stationary cameras."""
    road_detector: DetectorConfig | None = None
    """The model of `profile: road` cameras, when it should differ from the edge's detector (a
    lighter one, e.g. civicwatch-street-v4, holds 5 fps on more cameras); registry-checked like
    it. Default: the edge's detector."""
