"""Table of notices to shops: ``shop_notices``, one row per notice given on a cross-door case.

The row is its own audit: who recorded it and when, next to when and how the shop was told.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.tables import Base


class NoticeChannel(StrEnum):
    """How the shop was told."""

    SMS = "sms"
    PHONE = "phone"
    PAPER = "paper"  # a written notice handed over or posted
    IN_PERSON = "in_person"


class ShopNotice(Base):
    """A notice given to the shop a cross-door case names (append-only)."""

    __tablename__ = "shop_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    shop_id: Mapped[str] = mapped_column(String(64))
    shop_name: Mapped[str] = mapped_column(String(128))
    channel: Mapped[NoticeChannel] = mapped_column(
        Enum(
            NoticeChannel,
            name="notice_channel",
            native_enum=False,
            create_constraint=True,
            length=16,
            validate_strings=True,
            values_callable=lambda members: [member.value for member in members],
        )
    )
    text: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime]
    """When the shop was told (given by the person recording it)."""
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime]
