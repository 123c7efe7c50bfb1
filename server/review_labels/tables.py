"""Tables of review labels: structured reasons of verdicts and edits of a case frame's boxes.

Both are append-only (the audit trail next to ``case_reviews``): a reason row belongs to the
verdict it explains; a box row is one edit, folded in id order into the current boxes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from server.tables import Base


class ReviewReasonRow(Base):
    """The structured reason of one verdict (``case_reviews`` row)."""

    __tablename__ = "review_reasons"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    review_id: Mapped[int] = mapped_column(
        ForeignKey("case_reviews.id", ondelete="CASCADE"), unique=True
    )
    code: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(String(32))
    box_id: Mapped[str | None] = mapped_column(String(32))
    really_is: Mapped[str | None] = mapped_column(String(64))
    duplicate_of: Mapped[int | None] = mapped_column(BigInteger)
    reviewer: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]


class LabelBoxRow(Base):
    """One edit of a case frame's boxes: add, fix or wrong (who, when, what)."""

    __tablename__ = "label_boxes"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    frame_sha256: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    box_id: Mapped[str | None] = mapped_column(String(32))
    """The box edited (fix, wrong); ``None`` for add (its id is ``added-<id>``)."""
    x1: Mapped[float | None] = mapped_column(Float)
    y1: Mapped[float | None] = mapped_column(Float)
    x2: Mapped[float | None] = mapped_column(Float)
    y2: Mapped[float | None] = mapped_column(Float)
    class_name: Mapped[str | None] = mapped_column(String(64))
    """add: the class; wrong: what the box really is (a class or background), if said."""
    reviewer: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
