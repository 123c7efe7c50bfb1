"""Evidence chain: edge keys, chain records, the evidence they list or drop, chain issues.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 12:17:23.969608
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chain_issues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("edge_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "gap",
                "fork",
                "broken_link",
                "bad_signature",
                "unknown_key",
                name="chain_issue_kind",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("event_id", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_issues")),
    )
    with op.batch_alter_table("chain_issues", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chain_issues_edge_id"), ["edge_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_chain_issues_event_id"), ["event_id"], unique=False)

    op.create_table(
        "chain_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("edge_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("record_hash", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("event_id", sa.String(length=32), nullable=True),
        sa.Column("phase", sa.String(length=16), nullable=True),
        sa.Column("event_sha256", sa.String(length=64), nullable=True),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("signed_json", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_records")),
        sa.UniqueConstraint("edge_id", "seq", "record_hash", name=op.f("uq_chain_records_edge_id")),
    )
    with op.batch_alter_table("chain_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chain_records_event_id"), ["event_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_chain_records_event_sha256"), ["event_sha256"], unique=False
        )

    op.create_table(
        "edge_keys",
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("edge_id", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_edge_keys")),
    )
    with op.batch_alter_table("edge_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_edge_keys_edge_id"), ["edge_id"], unique=False)

    op.create_table(
        "chain_evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "listed",
                "dropped",
                name="chain_role",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["chain_records.id"],
            name=op.f("fk_chain_evidence_record_id_chain_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_evidence")),
    )
    with op.batch_alter_table("chain_evidence", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_chain_evidence_record_id"), ["record_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_chain_evidence_sha256"), ["sha256"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("chain_evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chain_evidence_sha256"))
        batch_op.drop_index(batch_op.f("ix_chain_evidence_record_id"))

    op.drop_table("chain_evidence")
    with op.batch_alter_table("edge_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_edge_keys_edge_id"))

    op.drop_table("edge_keys")
    with op.batch_alter_table("chain_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chain_records_event_sha256"))
        batch_op.drop_index(batch_op.f("ix_chain_records_event_id"))

    op.drop_table("chain_records")
    with op.batch_alter_table("chain_issues", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chain_issues_event_id"))
        batch_op.drop_index(batch_op.f("ix_chain_issues_edge_id"))

    op.drop_table("chain_issues")
