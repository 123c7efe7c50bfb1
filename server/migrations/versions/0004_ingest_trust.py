"""Ingest trust: quarantined events (waiting for a verified chain record), audited overrides.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "quarantined_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("edge_id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=32), nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "payload", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "outcome",
            sa.Enum(
                "admitted",
                "expired",
                name="quarantine_outcome",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantined_events")),
        sa.UniqueConstraint(
            "edge_id", "payload_sha256", name=op.f("uq_quarantined_events_edge_id")
        ),
    )
    with op.batch_alter_table("quarantined_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quarantined_events_edge_id"), ["edge_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_quarantined_events_event_id"), ["event_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_quarantined_events_payload_sha256"), ["payload_sha256"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_quarantined_events_resolved_at"), ["resolved_at"], unique=False
        )

    with op.batch_alter_table("case_reviews", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chain_status", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("chain_override", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("case_reviews", schema=None) as batch_op:
        batch_op.drop_column("chain_override")
        batch_op.drop_column("chain_status")
    with op.batch_alter_table("quarantined_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quarantined_events_resolved_at"))
        batch_op.drop_index(batch_op.f("ix_quarantined_events_payload_sha256"))
        batch_op.drop_index(batch_op.f("ix_quarantined_events_event_id"))
        batch_op.drop_index(batch_op.f("ix_quarantined_events_edge_id"))
    op.drop_table("quarantined_events")
