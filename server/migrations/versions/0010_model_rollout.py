"""Model rollout: model assignments to edges and groups, applied versions, rollbacks.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 01:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "model_files",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("registered_by", sa.String(length=64), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_model_files")),
    )
    op.create_table(
        "model_assignments",
        sa.Column("edge_id", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("previous_sha256", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("canary", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("assigned_by", sa.String(length=64), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reported_revision", sa.Integer(), nullable=True),
        sa.Column("reported_state", sa.String(length=16), nullable=True),
        sa.Column("reported_sha256", sa.String(length=64), nullable=True),
        sa.Column("agreement", sa.Float(), nullable=True),
        sa.Column("reported_detail", sa.Text(), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("edge_id", name=op.f("pk_model_assignments")),
    )
    op.create_table(
        "model_assignment_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("edge_id", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("canary", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("assigned_by", sa.String(length=64), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_assignment_log")),
    )
    with op.batch_alter_table("model_assignment_log", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_model_assignment_log_edge_id"), ["edge_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("model_assignment_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_model_assignment_log_edge_id"))
    op.drop_table("model_assignment_log")
    op.drop_table("model_assignments")
    op.drop_table("model_files")
