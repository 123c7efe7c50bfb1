"""Cameras as data: the camera registry, zone file versions, snapshots, health and alarms.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 01:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Filled in by the change that owns this revision (reserved so parallel work chains)."""


def downgrade() -> None:
    """Nothing to undo yet."""
