"""Tables of the camera operators' tools, keyed by the registry's camera (``cameras.id``).

``camera_settings``: what the edge needs to read a camera that the registry
(:class:`server.org.tables.Camera`) does not hold: its stream URL (with credentials; never
returned or logged whole) and analysis profile. ``zone_versions``: every saved zone file of a
camera (append-only; a rollback is a new version). ``edge_configs``: the config version of
each edge (one more per change) and what the edge last reported about it.
``camera_snapshots``: the frames edges uploaded (bytes in the evidence store).
``camera_health``: a bounded history of each camera's health samples (for sparklines).
``camera_alarms``: dark / frozen / turned-away alarms, raised and cleared.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from contracts.control import Profile
from server.cameras.alarms import AlarmKind
from server.tables import Base


def _enum(cls: type[Profile] | type[AlarmKind], name: str) -> Enum:
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        validate_strings=True,
        values_callable=lambda members: [member.value for member in members],
    )


class CameraSettings(Base):
    """How the edge reads a registered camera."""

    __tablename__ = "camera_settings"

    camera_pk: Mapped[int] = mapped_column(
        ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True
    )
    stream_url: Mapped[str] = mapped_column(Text)
    """rtsp:// URL with its credentials: sent to the edge only, shown redacted."""
    profile: Mapped[Profile] = mapped_column(_enum(Profile, "camera_profile"))
    updated_at: Mapped[datetime]
    snapshot_requested_at: Mapped[datetime | None] = mapped_column(default=None)
    """When a snapshot was last asked for (the editor waits for one newer than this)."""
    applied_zone_version: Mapped[int | None] = mapped_column(Integer, default=None)
    """The zone version the edge last said this camera runs."""
    applied_at: Mapped[datetime | None] = mapped_column(default=None)


class ZoneVersion(Base):
    """One saved zone file of a camera."""

    __tablename__ = "zone_versions"
    __table_args__ = (UniqueConstraint("camera_pk", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_pk: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    zones_yaml: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    parent_version: Mapped[int | None] = mapped_column(Integer, default=None)
    comment: Mapped[str] = mapped_column(Text, default="")
    reference_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    """The snapshot the zones were drawn on (the edge compares its view against it)."""


class EdgeConfig(Base):
    """The config version of one edge and the edge's last report about it."""

    __tablename__ = "edge_configs"

    edge_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[datetime]
    published_at: Mapped[datetime | None] = mapped_column(default=None)
    received_version: Mapped[int | None] = mapped_column(Integer, default=None)
    running_version: Mapped[int | None] = mapped_column(Integer, default=None)
    state: Mapped[str | None] = mapped_column(String(16), default=None)
    """``applied`` or ``refused`` (:class:`contracts.control.ApplyState`) for received_version."""
    error: Mapped[str | None] = mapped_column(Text, default=None)
    source: Mapped[str | None] = mapped_column(String(16), default=None)
    status_at: Mapped[datetime | None] = mapped_column(default=None)


class CameraSnapshot(Base):
    """A frame an edge uploaded for a camera (JPEG bytes in the evidence store)."""

    __tablename__ = "camera_snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_pk: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    captured_at: Mapped[datetime]
    received_at: Mapped[datetime]
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)


class CameraHealthSample(Base):
    """One health sample of a camera (a bounded history per camera)."""

    __tablename__ = "camera_health"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    camera_pk: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), index=True)
    sampled_at: Mapped[datetime]
    received_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16))
    frames_received: Mapped[int] = mapped_column(BigInteger)
    frames_analysed: Mapped[int] = mapped_column(BigInteger)
    frames_dropped: Mapped[int] = mapped_column(BigInteger)
    decode_errors: Mapped[int] = mapped_column(BigInteger)
    reconnects: Mapped[int] = mapped_column(BigInteger)
    last_frame_age_s: Mapped[float | None] = mapped_column(Float, default=None)
    detector_latency_ms: Mapped[float | None] = mapped_column(Float, default=None)
    frozen: Mapped[bool] = mapped_column(Boolean)
    view_similarity: Mapped[float | None] = mapped_column(Float, default=None)


class CameraAlarm(Base):
    """An alarm of a camera; open while ``cleared_at`` is null."""

    __tablename__ = "camera_alarms"
    __table_args__ = (
        # One open alarm per camera and kind, even with several server replicas judging.
        Index(
            "uq_camera_alarms_open",
            "camera_pk",
            "kind",
            unique=True,
            sqlite_where=text("cleared_at IS NULL"),
            postgresql_where=text("cleared_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_pk: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), index=True)
    kind: Mapped[AlarmKind] = mapped_column(_enum(AlarmKind, "camera_alarm_kind"))
    raised_at: Mapped[datetime]
    cleared_at: Mapped[datetime | None] = mapped_column(default=None)
    detail: Mapped[str] = mapped_column(Text)
