"""What the server tells an edge to run, and what the edge answers.

**Config** (server -> edge): one :class:`EdgeConfigMessage` per edge, the edge's whole camera
list with each camera's zone file, published retained, QoS 1, on
:func:`contracts.topics.config_topic`. Retained, so an edge that was offline when an operator
saved gets the newest version when it connects; whole, so applying it never depends on an
earlier message. The edge validates all of it first (every zone file with the :mod:`zones`
validator) and applies it only when everything is good; otherwise it keeps running its last
good configuration.

**Status** (edge -> server): a :class:`ConfigStatus` on :func:`contracts.topics.status_topic`
(retained, QoS 1) after every config it receives and at start: the version it runs per camera,
or why it refused one.

**Snapshot request** (server -> edge): a :class:`SnapshotRequest` on
:func:`contracts.topics.snapshot_request_topic` (QoS 1, not retained); the edge answers with a
:class:`SnapshotMessage` per camera on :func:`contracts.topics.snapshot_topic`.

The stream URL travels inside the config because the edge needs it; the broker lets only that
edge read its control topics (the generated ACL), and the URL is never part of a ``repr``.

Example:
    >>> message = EdgeConfigMessage.from_json(
    ...     b'{"schema_version": 1, "edge_id": "edge-1", "version": 3,'
    ...     b' "issued_at": "2025-06-02T02:15:00Z", "cameras": []}'
    ... )
    >>> message.version
    3
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.events import Sha256, UtcDatetime
from contracts.ids import Identifier

CONTROL_SCHEMA_VERSION: Final[int] = 1
"""The control schema this code speaks; a message with a higher version is refused."""

MAX_CONFIG_BYTES: Final[int] = 4 * 1024 * 1024
"""An edge config larger than this is refused unread."""

MAX_ZONE_FILE_CHARS: Final[int] = 512 * 1024
"""The largest zone file (YAML text) one camera may carry."""

MAX_SNAPSHOT_JPEG_BYTES: Final[int] = 2 * 1024 * 1024
"""The largest snapshot JPEG; an edge scales and compresses to stay well below it."""

MAX_ERROR_CHARS: Final[int] = 8000


class ControlMessageError(ValueError):
    """A control message that cannot be used; the message says why in words for an operator."""


class Profile(StrEnum):
    """How a camera is analysed (the edge maps it to its analysis rate and decode mode)."""

    STATIONARY = "stationary"  # stalls, shop fronts, sites: a look every few seconds
    ROAD = "road"  # moving trucks: several frames a second


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_schema_version(payload: bytes | str, what: str) -> None:
    """Refuse a newer schema with a clear message before the strict model sees new keys."""
    try:
        data = json.loads(payload)
    except ValueError as exc:
        raise ControlMessageError(f"{what} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ControlMessageError(f"{what} is not a JSON object")
    version = data.get("schema_version", CONTROL_SCHEMA_VERSION)
    if isinstance(version, int) and version > CONTROL_SCHEMA_VERSION:
        raise ControlMessageError(
            f"{what} has schema version {version}, newer than this edge understands "
            f"({CONTROL_SCHEMA_VERSION}): update the edge software"
        )


class ControlCamera(_Wire):
    """One camera of an edge as the server's registry holds it."""

    camera_id: Identifier = Field(description="Camera id, unique on the edge; used in topics.")
    name: str = Field(min_length=1, max_length=200, description="Display name.")
    stream_url: str = Field(
        min_length=8,
        max_length=2048,
        repr=False,
        description="rtsp:// or rtsps:// URL, credentials included (never logged).",
    )
    profile: Profile = Field(description="Analysis profile.")
    enabled: bool = Field(description="False: configured but not read or analysed.")
    zones_yaml: str = Field(
        max_length=MAX_ZONE_FILE_CHARS,
        description="The zone file's YAML text (as `civicwatch zones validate` reads it).",
    )
    zone_version: int = Field(ge=1, description="Version of the zone file in the registry.")
    reference_sha256: Sha256 | None = Field(
        None,
        description="The snapshot the zones were drawn on (its JPEG's sha256); the edge "
        "compares its view against it. Null: no reference yet.",
    )


class EdgeConfigMessage(_Wire):
    """An edge's whole configuration from the server: every camera and its zones."""

    schema_version: int = Field(CONTROL_SCHEMA_VERSION, ge=1, le=CONTROL_SCHEMA_VERSION)
    edge_id: Identifier
    version: int = Field(ge=1, description="Config version of this edge; grows by one a change.")
    issued_at: UtcDatetime
    cameras: list[ControlCamera] = Field(max_length=512)

    @model_validator(mode="after")
    def _unique_cameras(self) -> Self:
        ids = [c.camera_id for c in self.cameras]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate camera ids: {', '.join(dupes)}")
        return self

    def camera(self, camera_id: str) -> ControlCamera:
        """The camera with ``camera_id``.

        Raises:
            KeyError: No such camera.
        """
        for camera in self.cameras:
            if camera.camera_id == camera_id:
                return camera
        raise KeyError(f"config {self.version} has no camera {camera_id!r}")

    def to_json(self) -> bytes:
        return self.model_dump_json().encode("utf-8")

    @classmethod
    def from_json(cls, payload: bytes | str) -> EdgeConfigMessage:
        """Parse a config.

        Raises:
            ControlMessageError: Too large, not JSON, or a newer schema version.
            pydantic.ValidationError: Any other problem (its message lists each).
        """
        if len(payload) > MAX_CONFIG_BYTES:
            raise ControlMessageError(
                f"edge config of {len(payload)} bytes is larger than {MAX_CONFIG_BYTES}"
            )
        _check_schema_version(payload, "edge config")
        return cls.model_validate_json(payload)


class SnapshotRequest(_Wire):
    """Ask an edge for the latest frame of one camera (or of all its cameras)."""

    schema_version: int = Field(CONTROL_SCHEMA_VERSION, ge=1, le=CONTROL_SCHEMA_VERSION)
    request_id: Identifier = Field(description="Echoed in the answer.")
    edge_id: Identifier
    camera_id: Identifier | None = Field(None, description="Null: every enabled camera.")
    requested_at: UtcDatetime

    def to_json(self) -> bytes:
        return self.model_dump_json().encode("utf-8")

    @classmethod
    def from_json(cls, payload: bytes | str) -> SnapshotRequest:
        """Parse a request.

        Raises:
            ControlMessageError: Too large, not JSON, or a newer schema version.
            pydantic.ValidationError: Any other problem.
        """
        if len(payload) > 4096:
            raise ControlMessageError(f"snapshot request of {len(payload)} bytes is too large")
        _check_schema_version(payload, "snapshot request")
        return cls.model_validate_json(payload)


class SnapshotMessage(_Wire):
    """The latest frame of a camera as a JPEG (base64 in JSON: one self-describing message)."""

    schema_version: int = Field(CONTROL_SCHEMA_VERSION, ge=1, le=CONTROL_SCHEMA_VERSION)
    edge_id: Identifier
    camera_id: Identifier
    request_id: Identifier | None = Field(None, description="The request answered; null: periodic.")
    captured_at: UtcDatetime = Field(description="When the frame was captured.")
    width: int = Field(gt=0, le=8192)
    height: int = Field(gt=0, le=8192)
    content_type: Literal["image/jpeg"] = "image/jpeg"
    sha256: Sha256 = Field(description="Of the JPEG bytes.")
    jpeg_base64: str = Field(
        max_length=(MAX_SNAPSHOT_JPEG_BYTES * 4) // 3 + 4, repr=False, description="The JPEG."
    )

    def to_json(self) -> bytes:
        return self.model_dump_json().encode("utf-8")

    @classmethod
    def from_json(cls, payload: bytes | str) -> SnapshotMessage:
        """Parse a snapshot (the caller checks ``sha256`` against the decoded bytes).

        Raises:
            ControlMessageError: Not JSON, or a newer schema version.
            pydantic.ValidationError: Any other problem.
        """
        _check_schema_version(payload, "snapshot")
        return cls.model_validate_json(payload)


class ApplyState(StrEnum):
    APPLIED = "applied"  # the edge runs this version
    REFUSED = "refused"  # the edge refused it and keeps running its last good one


class CameraConfigStatus(_Wire):
    """What one camera runs."""

    camera_id: Identifier
    zone_version: int | None = Field(description="Zone version it runs; null: none.")
    enabled: bool


class ConfigStatus(_Wire):
    """The edge's answer to a config (and its report at start)."""

    schema_version: int = Field(CONTROL_SCHEMA_VERSION, ge=1, le=CONTROL_SCHEMA_VERSION)
    edge_id: Identifier
    received_version: int | None = Field(
        description="The config version this status answers; null: the report at start."
    )
    state: ApplyState = Field(description="What became of received_version.")
    error: str | None = Field(
        None, max_length=MAX_ERROR_CHARS, description="Why it was refused (every problem)."
    )
    running_version: int | None = Field(
        description="The config version the edge runs now; null: its YAML file only."
    )
    source: Literal["server", "disk", "yaml"] = Field(
        description="Where the running config came from: this broker session, the copy on "
        "disk (server unreachable at start), or the edge's own YAML file."
    )
    cameras: list[CameraConfigStatus] = Field(max_length=512)
    reported_at: UtcDatetime

    @model_validator(mode="after")
    def _error_iff_refused(self) -> Self:
        if (self.state is ApplyState.REFUSED) != (self.error is not None):
            raise ValueError("error is given exactly when the state is 'refused'")
        return self

    def to_json(self) -> bytes:
        return self.model_dump_json().encode("utf-8")

    @classmethod
    def from_json(cls, payload: bytes | str) -> ConfigStatus:
        """Parse a status.

        Raises:
            ControlMessageError: Not JSON, or a newer schema version.
            pydantic.ValidationError: Any other problem.
        """
        _check_schema_version(payload, "config status")
        return cls.model_validate_json(payload)
