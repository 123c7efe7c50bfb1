"""Settings of the camera tools: alarm thresholds, health history, snapshot timeout.

The server's settings hold them as ``cameras`` (``CIVICWATCH_CAMERAS__DARK_AFTER_S=600``).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from server.cameras.alarms import AlarmThresholds


class CameraToolSettings(BaseModel):
    """Camera alarms, health history and snapshots (server.cameras)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    dark_after_s: Annotated[float, Field(ge=1, le=7 * 86_400)] = 300.0
    """A camera without a new frame (or a health report) for this long is dark, s."""
    view_similarity_min: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    """Below this similarity to the zones' reference snapshot the camera has turned away."""
    alarm_interval_s: Annotated[float, Field(ge=0, le=3600)] = 10.0
    """How often the running server judges camera health, s; 0 never."""
    health_history: Annotated[int, Field(ge=2, le=100_000)] = 360
    """Health samples kept per camera (at one sample every 5 s: 30 minutes)."""
    snapshot_timeout_s: Annotated[float, Field(ge=1, le=3600)] = 30.0
    """After this long without the snapshot asked for, the editor says it did not come, s."""

    def thresholds(self) -> AlarmThresholds:
        return AlarmThresholds(
            dark_after_s=self.dark_after_s, view_similarity_min=self.view_similarity_min
        )
