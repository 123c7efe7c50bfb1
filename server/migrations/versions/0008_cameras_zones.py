"""Cameras as data: the camera registry, zone file versions, snapshots, health and alarms.

Adds, keyed by the registry's ``cameras.id`` (0006): ``camera_settings`` (stream URL,
profile, what the edge applied), ``zone_versions``, ``camera_snapshots``, ``camera_health``
and ``camera_alarms``; and ``edge_configs`` (each edge's config version and its report).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 01:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(values: Sequence[str], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _camera_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["camera_pk"],
        ["cameras.id"],
        name=op.f(f"fk_{table}_camera_pk_cameras"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "camera_settings",
        sa.Column("camera_pk", sa.Integer(), nullable=False),
        sa.Column("stream_url", sa.Text(), nullable=False),
        sa.Column("profile", _enum(("stationary", "road"), "camera_profile"), nullable=False),
        sa.Column("updated_at", _time(), nullable=False),
        sa.Column("snapshot_requested_at", _time(), nullable=True),
        sa.Column("applied_zone_version", sa.Integer(), nullable=True),
        sa.Column("applied_at", _time(), nullable=True),
        _camera_fk("camera_settings"),
        sa.PrimaryKeyConstraint("camera_pk", name=op.f("pk_camera_settings")),
    )
    op.create_table(
        "zone_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("camera_pk", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("zones_yaml", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("parent_version", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("reference_sha256", sa.String(length=64), nullable=True),
        _camera_fk("zone_versions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zone_versions")),
        sa.UniqueConstraint("camera_pk", "version", name=op.f("uq_zone_versions_camera_pk")),
    )
    op.create_table(
        "edge_configs",
        sa.Column("edge_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("issued_at", _time(), nullable=False),
        sa.Column("published_at", _time(), nullable=True),
        sa.Column("received_version", sa.Integer(), nullable=True),
        sa.Column("running_version", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=True),
        sa.Column("status_at", _time(), nullable=True),
        sa.PrimaryKeyConstraint("edge_id", name=op.f("pk_edge_configs")),
    )
    op.create_table(
        "camera_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("camera_pk", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("captured_at", _time(), nullable=False),
        sa.Column("received_at", _time(), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        _camera_fk("camera_snapshots"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_camera_snapshots")),
    )
    op.create_table(
        "camera_health",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("camera_pk", sa.Integer(), nullable=False),
        sa.Column("sampled_at", _time(), nullable=False),
        sa.Column("received_at", _time(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("frames_received", sa.BigInteger(), nullable=False),
        sa.Column("frames_analysed", sa.BigInteger(), nullable=False),
        sa.Column("frames_dropped", sa.BigInteger(), nullable=False),
        sa.Column("decode_errors", sa.BigInteger(), nullable=False),
        sa.Column("reconnects", sa.BigInteger(), nullable=False),
        sa.Column("last_frame_age_s", sa.Float(), nullable=True),
        sa.Column("detector_latency_ms", sa.Float(), nullable=True),
        sa.Column("frozen", sa.Boolean(), nullable=False),
        sa.Column("view_similarity", sa.Float(), nullable=True),
        _camera_fk("camera_health"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_camera_health")),
    )
    op.create_table(
        "camera_alarms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("camera_pk", sa.Integer(), nullable=False),
        sa.Column(
            "kind", _enum(("dark", "frozen", "view_changed"), "camera_alarm_kind"), nullable=False
        ),
        sa.Column("raised_at", _time(), nullable=False),
        sa.Column("cleared_at", _time(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        _camera_fk("camera_alarms"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_camera_alarms")),
    )
    for table in ("camera_snapshots", "camera_health", "camera_alarms"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f"ix_{table}_camera_pk"), ["camera_pk"], unique=False)
    op.create_index(
        "uq_camera_alarms_open",
        "camera_alarms",
        ["camera_pk", "kind"],
        unique=True,
        sqlite_where=sa.text("cleared_at IS NULL"),
        postgresql_where=sa.text("cleared_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_camera_alarms_open", table_name="camera_alarms")
    for table in ("camera_alarms", "camera_health", "camera_snapshots"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_camera_pk"))
        op.drop_table(table)
    op.drop_table("edge_configs")
    op.drop_table("zone_versions")
    op.drop_table("camera_settings")
