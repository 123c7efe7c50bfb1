"""Hand-off: webhook subscriptions, deliveries and dead letters; notices to shops.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 01:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Filled in by the change that owns this revision (reserved so parallel work chains)."""


def downgrade() -> None:
    """Nothing to undo yet."""
