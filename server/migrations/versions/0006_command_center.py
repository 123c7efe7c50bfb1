"""The command center: units (市/区/街镇/teams), case lifecycle transitions, dispatch, disposal.

Adds the ``units`` tree and the ``cameras`` registry, the lifecycle columns of ``cases``,
``users.unit_id``, the new case statuses and roles (their CHECK constraints are rebuilt),
``case_transitions``, ``case_disposals``, ``case_disposal_photos`` and ``case_file_records``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 01:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_STATUSES = ("candidate", "confirmed", "rejected", "escalated")
_NEW_STATUSES = (*_OLD_STATUSES, "dispatched", "disposed", "verified", "closed")
_OLD_ROLES = ("operator", "reviewer", "admin", "edge")
_NEW_ROLES = (*_OLD_ROLES, "dispatcher", "team")
_ACTIONS = (
    "confirm",
    "reject",
    "escalate",
    "dispatch",
    "dispose",
    "verify",
    "send_back",
    "close",
    "reopen",
    "overdue",
)


def _enum(values: Sequence[str], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def _now_utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _retype(table: str, column: str, name: str, old: Sequence[str], new: Sequence[str]) -> None:
    """Rebuild the CHECK constraint of a non-native enum column for a new set of values."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.alter_column(
            column, existing_type=_enum(old, name), type_=_enum(new, name), existing_nullable=False
        )


def upgrade() -> None:
    op.create_table(
        "units",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("name_en", sa.String(length=128), nullable=False),
        sa.Column(
            "level", _enum(("city", "district", "street", "team"), "unit_level"), nullable=False
        ),
        sa.Column("parent_id", sa.String(length=64), nullable=True),
        sa.Column("outline", _json(), nullable=True),
        sa.Column("sort_order", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["parent_id"], ["units.id"], name=op.f("fk_units_parent_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_units")),
    )
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_units_parent_id"), ["parent_id"], unique=False)
    op.create_table(
        "cameras",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("edge_id", sa.String(length=64), nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", _now_utc(), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_cameras_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cameras")),
        sa.UniqueConstraint("edge_id", "camera_id", name=op.f("uq_cameras_edge_id")),
    )
    with op.batch_alter_table("cameras", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cameras_unit_id"), ["unit_id"], unique=False)

    _retype("cases", "status", "case_status", _OLD_STATUSES, _NEW_STATUSES)
    _retype("case_reviews", "status_before", "status_before", _OLD_STATUSES, _NEW_STATUSES)
    _retype("case_reviews", "status_after", "status_after", _OLD_STATUSES, _NEW_STATUSES)
    _retype("users", "role", "user_role", _OLD_ROLES, _NEW_ROLES)
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assigned_unit_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("team_unit_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("deadline_at", _now_utc(), nullable=True))
        batch_op.add_column(sa.Column("overdue_at", _now_utc(), nullable=True))
        batch_op.add_column(sa.Column("closed_at", _now_utc(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_cases_assigned_unit_id"), ["assigned_unit_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_cases_team_unit_id"), ["team_unit_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_cases_assigned_unit_id_units"), "units", ["assigned_unit_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_cases_team_unit_id_units"), "units", ["team_unit_id"], ["id"]
        )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unit_id", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_users_unit_id"), ["unit_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_users_unit_id_units"), "units", ["unit_id"], ["id"]
        )

    op.create_table(
        "case_transitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("action", _enum(_ACTIONS, "transition_action"), nullable=False),
        sa.Column("from_status", _enum(_NEW_STATUSES, "from_status"), nullable=False),
        sa.Column("to_status", _enum(_NEW_STATUSES, "to_status"), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=True),
        sa.Column("at", _now_utc(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("detail", _json(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_transitions_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_transitions")),
    )
    with op.batch_alter_table("case_transitions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_transitions_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_transitions_case_id"), ["case_id"], unique=False)
    op.create_table(
        "case_disposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column("at", _now_utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_disposals_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_disposals")),
    )
    with op.batch_alter_table("case_disposals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_disposals_case_id"), ["case_id"], unique=False)
    op.create_table(
        "case_disposal_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("disposal_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("byte_size", sa.BigInteger(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["disposal_id"],
            ["case_disposals.id"],
            name=op.f("fk_case_disposal_photos_disposal_id_case_disposals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_disposal_photos")),
        sa.UniqueConstraint(
            "disposal_id", "sha256", name=op.f("uq_case_disposal_photos_disposal_id")
        ),
    )
    with op.batch_alter_table("case_disposal_photos", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_case_disposal_photos_disposal_id"), ["disposal_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_case_disposal_photos_sha256"), ["sha256"], unique=False
        )
    op.create_table(
        "case_file_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("record_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", _now_utc(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("payload", _json(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_file_records_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_file_records")),
        sa.UniqueConstraint("case_id", "seq", name=op.f("uq_case_file_records_case_id")),
    )
    with op.batch_alter_table("case_file_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_file_records_case_id"), ["case_id"], unique=False)


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def downgrade() -> None:
    op.drop_table("case_file_records")
    op.drop_table("case_disposal_photos")
    op.drop_table("case_disposals")
    op.drop_table("case_transitions")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_users_unit_id_units"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_users_unit_id"))
        batch_op.drop_column("unit_id")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_cases_team_unit_id_units"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_cases_assigned_unit_id_units"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_cases_team_unit_id"))
        batch_op.drop_index(batch_op.f("ix_cases_assigned_unit_id"))
        batch_op.drop_column("closed_at")
        batch_op.drop_column("overdue_at")
        batch_op.drop_column("deadline_at")
        batch_op.drop_column("team_unit_id")
        batch_op.drop_column("assigned_unit_id")
    # Rows in the new statuses or roles cannot be expressed in the old schema.
    op.execute(
        sa.text(
            "UPDATE cases SET status = 'confirmed' "
            "WHERE status IN ('dispatched', 'disposed', 'verified', 'closed')"
        )
    )
    op.execute(sa.text("UPDATE users SET role = 'operator' WHERE role IN ('dispatcher', 'team')"))
    _retype("users", "role", "user_role", _NEW_ROLES, _OLD_ROLES)
    _retype("case_reviews", "status_after", "status_after", _NEW_STATUSES, _OLD_STATUSES)
    _retype("case_reviews", "status_before", "status_before", _NEW_STATUSES, _OLD_STATUSES)
    _retype("cases", "status", "case_status", _NEW_STATUSES, _OLD_STATUSES)
    with op.batch_alter_table("cameras", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cameras_unit_id"))
    op.drop_table("cameras")
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_units_parent_id"))
    op.drop_table("units")
