"""Verdicts a model can learn from: structured review reasons, box corrections and added boxes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 01:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "review_reasons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.String(length=32), nullable=True),
        sa.Column("box_id", sa.String(length=32), nullable=True),
        sa.Column("really_is", sa.String(length=64), nullable=True),
        sa.Column("duplicate_of", sa.BigInteger(), nullable=True),
        sa.Column("reviewer", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_review_reasons_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["review_id"],
            ["case_reviews.id"],
            name=op.f("fk_review_reasons_review_id_case_reviews"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_reasons")),
        sa.UniqueConstraint("review_id", name=op.f("uq_review_reasons_review_id")),
    )
    with op.batch_alter_table("review_reasons", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_reasons_case_id"), ["case_id"], unique=False)
    op.create_table(
        "label_boxes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("frame_sha256", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("box_id", sa.String(length=32), nullable=True),
        sa.Column("x1", sa.Float(), nullable=True),
        sa.Column("y1", sa.Float(), nullable=True),
        sa.Column("x2", sa.Float(), nullable=True),
        sa.Column("y2", sa.Float(), nullable=True),
        sa.Column("class_name", sa.String(length=64), nullable=True),
        sa.Column("reviewer", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_label_boxes_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_label_boxes")),
    )
    with op.batch_alter_table("label_boxes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_label_boxes_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("label_boxes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_label_boxes_case_id"))
    op.drop_table("label_boxes")
    with op.batch_alter_table("review_reasons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_reasons_case_id"))
    op.drop_table("review_reasons")
