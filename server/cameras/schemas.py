"""HTTP API models of the camera registry, zone versions, snapshots, health and alarms."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.control import Profile
from contracts.ids import Identifier
from server.cameras.alarms import AlarmKind


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


StreamUrl = str
"""An rtsp(s):// or http(s):// URL; credentials allowed (stored, never returned)."""


def _check_stream_url(url: str | None) -> str | None:
    if url is not None and not url.startswith(("rtsp://", "rtsps://", "http://", "https://")):
        raise ValueError("stream_url must start with rtsp://, rtsps://, http:// or https://")
    return url


class CameraCreate(_In):
    """A new camera of the registry."""

    edge_id: Identifier
    camera_id: Identifier
    name: str = Field(min_length=1, max_length=128)
    unit_id: Identifier = Field(description="The street-level unit (街镇) it belongs to.")
    lat: float | None = Field(None, ge=-90.0, le=90.0)
    lon: float | None = Field(None, ge=-180.0, le=180.0)
    stream_url: str = Field(min_length=8, max_length=2048, repr=False)
    profile: Profile = Profile.STATIONARY
    enabled: bool = True

    @model_validator(mode="after")
    def _url(self) -> CameraCreate:
        _check_stream_url(self.stream_url)
        return self


class CameraPatch(_In):
    """Changes to a camera; absent fields stay as they are."""

    name: str | None = Field(None, min_length=1, max_length=128)
    unit_id: Identifier | None = None
    lat: float | None = Field(None, ge=-90.0, le=90.0)
    lon: float | None = Field(None, ge=-180.0, le=180.0)
    stream_url: str | None = Field(None, min_length=8, max_length=2048, repr=False)
    profile: Profile | None = None
    enabled: bool | None = None

    @model_validator(mode="after")
    def _url(self) -> CameraPatch:
        _check_stream_url(self.stream_url)
        return self


class HealthOut(_Out):
    """One health sample of a camera."""

    sampled_at: datetime
    state: str
    frames_received: int
    frames_analysed: int
    frames_dropped: int
    decode_errors: int
    reconnects: int
    last_frame_age_s: float | None
    detector_latency_ms: float | None
    frozen: bool
    view_similarity: float | None


class AlarmOut(_Out):
    """An alarm of a camera (open while ``cleared_at`` is null)."""

    id: int
    camera: int
    kind: AlarmKind
    raised_at: datetime
    cleared_at: datetime | None
    detail: str


class ApplyOut(_Out):
    """What the edge runs for this camera, against the newest zone version."""

    latest_zone_version: int | None
    applied_zone_version: int | None
    applied_at: datetime | None
    applied: bool = Field(description="The edge runs the newest zone version.")
    config_version: int | None = Field(description="The edge's config version on the server.")
    edge_running_version: int | None
    edge_error: str | None = Field(description="Why the edge refused the newest config.")
    edge_reported_at: datetime | None


class CameraOut(_Out):
    """A camera of the registry, its state and open alarms. The stream URL is redacted."""

    id: int
    edge_id: str
    camera_id: str
    name: str
    unit_id: str
    lat: float | None
    lon: float | None
    enabled: bool
    stream_url: str | None = Field(description="Without user name and password.")
    profile: Profile | None
    state: str = Field(description="running, connecting, down, disabled, alarm or unknown.")
    health: HealthOut | None
    alarms: list[AlarmOut]
    apply: ApplyOut


class CameraList(_Out):
    items: list[CameraOut]


class HealthHistory(_Out):
    """A camera's recent health samples, oldest first."""

    camera: int
    items: list[HealthOut]


class HealthHistories(_Out):
    """Recent health samples of every camera in reach, oldest first (the list's sparklines)."""

    items: list[HealthHistory]


class AlarmList(_Out):
    items: list[AlarmOut]


class ZoneInput(_In):
    """A zone file as the editor sends it (``document``) or as YAML text (``yaml``)."""

    document: dict[str, Any] | None = Field(
        None, description="The zone file as JSON: {camera_id?, zones: [...]}."
    )
    yaml: str | None = Field(None, max_length=512 * 1024, description="Or its YAML text.")

    @model_validator(mode="after")
    def _one(self) -> ZoneInput:
        if (self.document is None) == (self.yaml is None):
            raise ValueError("give exactly one of 'document' and 'yaml'")
        return self


class ZoneSave(ZoneInput):
    """Save a new zone version on top of ``base_version``."""

    base_version: int | None = Field(
        description="The version the edit started from (null: the camera has none); a newer "
        "version on the server is a conflict (409)."
    )
    comment: str = Field("", max_length=2000)
    reference_sha256: str | None = Field(
        None, pattern=r"^[0-9a-f]{64}$", description="The snapshot the zones were drawn on."
    )


class ZoneRollback(_In):
    """Make a new version equal to ``to_version``."""

    to_version: int = Field(ge=1)
    base_version: int = Field(ge=1, description="The newest version the operator saw.")
    comment: str = Field("", max_length=2000)


class ProblemOut(_Out):
    """One validation problem and the shape it is about (for the editor to show beside it)."""

    message: str
    line: int
    zone_index: int | None
    zone_id: str | None
    shape: str | None
    shape_index: int | None
    point: int | None
    field: str | None


class ValidationOut(_Out):
    valid: bool
    problems: list[ProblemOut]


class ZoneVersionMeta(_Out):
    version: int
    author: str
    created_at: datetime
    parent_version: int | None
    comment: str
    reference_sha256: str | None


class ZoneVersionOut(ZoneVersionMeta):
    """One zone version: its text, its document and the edge's state."""

    camera: int
    yaml: str
    document: dict[str, Any]
    apply: ApplyOut


class ZoneVersionList(_Out):
    camera: int
    items: list[ZoneVersionMeta]


class ZoneChangeOut(_Out):
    zone_id: str
    fields: list[str]


class ZoneDiffOut(_Out):
    camera: int
    version: int
    against: int | None
    added: list[str]
    removed: list[str]
    changed: list[ZoneChangeOut]
    unified: str


class SnapshotOut(_Out):
    """The newest snapshot of a camera and whether one is being waited for."""

    camera: int
    sha256: str | None
    url: str | None
    width: int | None
    height: int | None
    captured_at: datetime | None
    received_at: datetime | None
    requested_at: datetime | None
    status: Literal["none", "waiting", "ready", "timed_out"] = Field(
        description="waiting: asked and not yet come; timed_out: asked longer ago than the "
        "snapshot timeout and nothing came."
    )
