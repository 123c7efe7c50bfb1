"""Per-camera health an edge publishes every few seconds (edge -> server).

One :class:`EdgeHealth` per edge and interval on :func:`contracts.topics.health_topic`, QoS 0,
not retained (the next sample replaces a lost one). Counters count since the edge process
started (a restart shows as ``uptime_s`` going down); the server takes differences. The edge
computes two picture signals the server turns into alarms:

- ``frozen``: the decoded picture has not changed (identical small downscaled hashes) for
  ``frozen_for_s`` seconds; a camera that still sends packets of a still image;
- ``view_similarity``: 0..1, how much the current view matches the reference snapshot the
  zones were drawn on (``reference_sha256``); low means the camera was turned away.

Example:
    >>> EdgeHealth.from_json(
    ...     b'{"edge_id": "edge-1", "sampled_at": "2025-06-02T02:15:00Z", "uptime_s": 5.0,'
    ...     b' "config_version": null, "cameras": []}'
    ... ).uptime_s
    5.0
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from contracts.events import Sha256, UtcDatetime
from contracts.ids import Identifier

HEALTH_SCHEMA_VERSION: Final[int] = 1
MAX_HEALTH_BYTES: Final[int] = 1024 * 1024


class CameraState(StrEnum):
    """Where a camera's reader stands."""

    RUNNING = "running"  # frames arrive
    CONNECTING = "connecting"  # opening or reconnecting; no frame yet
    DOWN = "down"  # gave up for now (waiting to retry) or ended
    DISABLED = "disabled"  # configured but switched off


class CameraHealth(BaseModel):
    """One camera's counters and picture signals at one moment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    camera_id: Identifier
    state: CameraState
    frames_received: int = Field(ge=0, description="Frames (packets of video) read.")
    frames_analysed: int = Field(ge=0, description="Frames the detector and rules ran on.")
    frames_dropped: int = Field(
        ge=0, description="Decoded frames replaced by a newer one before analysis (stale)."
    )
    decode_errors: int = Field(ge=0)
    reconnects: int = Field(ge=0, description="Times the stream was opened again.")
    last_frame_age_s: float | None = Field(
        ge=0.0, description="Seconds since the last frame; null: none yet."
    )
    detector_latency_p50_ms: float | None = Field(
        ge=0.0,
        description="Detector time per frame, ms: the median over the last sample intervals "
        "of each interval's mean; null: nothing analysed yet.",
    )
    frozen: bool = Field(description="The picture did not change for frozen_for_s seconds.")
    frozen_for_s: float = Field(ge=0.0, description="How long the picture has been unchanged.")
    view_similarity: float | None = Field(
        ge=0.0, le=1.0, description="Match of the view to the reference; null: no reference."
    )
    reference_sha256: Sha256 | None = Field(description="The reference compared against.")


class EdgeHealth(BaseModel):
    """All cameras of one edge at one moment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int = Field(HEALTH_SCHEMA_VERSION, ge=1)
    edge_id: Identifier
    sampled_at: UtcDatetime
    uptime_s: float = Field(ge=0.0, description="Seconds since the edge process started.")
    config_version: int | None = Field(description="Control config it runs; null: YAML only.")
    cameras: list[CameraHealth] = Field(max_length=512)

    def to_json(self) -> bytes:
        return self.model_dump_json().encode("utf-8")

    @classmethod
    def from_json(cls, payload: bytes | str) -> EdgeHealth:
        """Parse a sample.

        Raises:
            ValueError: Too large.
            pydantic.ValidationError: Not a valid sample.
        """
        if len(payload) > MAX_HEALTH_BYTES:
            raise ValueError(f"health sample of {len(payload)} bytes is too large")
        return cls.model_validate_json(payload)
