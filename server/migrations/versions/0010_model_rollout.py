"""Model rollout: model assignments to edges and groups, applied versions, rollbacks.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 01:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Filled in by the change that owns this revision (reserved so parallel work chains)."""


def downgrade() -> None:
    """Nothing to undo yet."""
