"""Versioned evidence-event schema, published by edges and ingested by the server.

An event has a life of ``start`` -> ``update``* -> ``end`` under one stable ``event_id``;
the server upserts on that id, so a replayed message never makes a second case.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from contracts.ids import Identifier as Identifier  # re-exported: older imports read it here
from contracts.limits import MAX_EVIDENCE_BYTES

SCHEMA_VERSION: Literal[1] = 1

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _check_sha256(value: str) -> str:
    if not _SHA256.match(value):
        raise ValueError("must be 64 lowercase hexadecimal characters")
    return value


def _check_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp must carry a timezone (UTC)")
    return value


Sha256 = Annotated[str, AfterValidator(_check_sha256)]
"""A lowercase hex SHA-256 digest."""

UtcDatetime = Annotated[datetime, AfterValidator(_check_utc)]
"""A timezone-aware timestamp; naive timestamps are refused."""


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=4096)


class EventPhase(StrEnum):
    START = "start"
    UPDATE = "update"
    END = "end"


class ViolationType(StrEnum):
    """The four violations of the enforcement plan."""

    STREET_STALL = "street_stall"  # 占道设摊
    CROSS_DOOR = "cross_door"  # 跨门经营
    MUCK_TRUCK = "muck_truck"  # 渣土车未密闭
    CONSTRUCTION = "construction"  # 文明施工


class EvidenceKind(StrEnum):
    FRAME = "frame"  # the clean full frame
    ANNOTATED = "annotated"  # zone, box and timestamp drawn in
    CROP = "crop"  # the object
    PLATE = "plate"  # a truck's plate region
    LOAD = "load"  # a truck's load area
    SENSOR_SERIES = "sensor_series"  # IoT readings (JSON)


class Box(_Wire):
    """An axis-aligned box in normalised image coordinates (0..1, origin top-left)."""

    x1: float = Field(ge=0.0, le=1.0)
    y1: float = Field(ge=0.0, le=1.0)
    x2: float = Field(ge=0.0, le=1.0)
    y2: float = Field(ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> Box:
        if self.x2 < self.x1 or self.y2 < self.y1:
            raise ValueError("box corners must satisfy x1 <= x2 and y1 <= y2")
        return self


class ModelRef(_Wire):
    """Which detector produced an event: every event records the model's hash."""

    name: str = Field(min_length=1, max_length=128)
    version: str = Field(min_length=1, max_length=64)
    sha256: Sha256


class EvidenceRef(_Wire):
    """One evidence item; its bytes travel separately, keyed by ``sha256``."""

    sha256: Sha256
    kind: EvidenceKind
    content_type: Literal["image/jpeg", "image/png", "application/json"]
    byte_size: int = Field(gt=0, le=MAX_EVIDENCE_BYTES)
    captured_at: UtcDatetime


class ZoneEvent(_Wire):
    """A violation observed in one zone of one camera, at one phase of its life."""

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
    phase: EventPhase
    edge_id: Identifier
    camera_id: Identifier
    zone_id: Identifier
    rule: Identifier
    violation_type: ViolationType
    label: str = Field(min_length=1, max_length=64)
    confidence: float = Field(ge=0.0, le=1.0)
    box: Box
    first_seen: UtcDatetime
    last_seen: UtcDatetime
    dwell_s: float = Field(ge=0.0)
    model: ModelRef
    evidence: list[EvidenceRef] = Field(default_factory=list, max_length=32)
    details: dict[str, str | float | int] = Field(default_factory=dict, max_length=32)
    sent_at: UtcDatetime

    @model_validator(mode="after")
    def _times(self) -> ZoneEvent:
        if self.last_seen < self.first_seen:
            raise ValueError("last_seen is before first_seen")
        return self

    def to_json(self) -> bytes:
        return self.model_dump_json().encode("utf-8")

    @classmethod
    def from_json(cls, payload: bytes | str) -> ZoneEvent:
        """Parse and validate a wire payload; raises ``pydantic.ValidationError``."""
        return cls.model_validate_json(payload)
