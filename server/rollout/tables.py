"""Tables of the model rollout: registered model files, each edge's assignment, the log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Float, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from server.tables import Base


class ModelFileRow(Base):
    """A model file the server serves; its bytes are in the evidence store, by sha256."""

    __tablename__ = "model_files"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    version: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    registered_by: Mapped[str] = mapped_column(String(64))
    registered_at: Mapped[datetime]


class ModelAssignmentRow(Base):
    """The model an edge should run now; ``revision`` guards concurrent assignments."""

    __tablename__ = "model_assignments"

    edge_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    revision: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    previous_sha256: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    canary: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    assigned_by: Mapped[str] = mapped_column(String(64))
    assigned_at: Mapped[datetime]
    # what the edge last reported (POST /api/v1/models/status)
    reported_revision: Mapped[int | None] = mapped_column(default=None)
    reported_state: Mapped[str | None] = mapped_column(String(16), default=None)
    reported_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    agreement: Mapped[float | None] = mapped_column(Float, default=None)
    reported_detail: Mapped[str | None] = mapped_column(Text, default=None)
    reported_at: Mapped[datetime | None] = mapped_column(default=None)


class ModelAssignmentLog(Base):
    """Every assignment and rollback, kept (the audit of what ran where)."""

    __tablename__ = "model_assignment_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    edge_id: Mapped[str] = mapped_column(String(64), index=True)
    revision: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    canary: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    assigned_by: Mapped[str] = mapped_column(String(64))
    assigned_at: Mapped[datetime]
