"""HTTP API models of shop notices (``/api/v1/cases/{id}/notices``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from server.notices.tables import NoticeChannel


class NoticeIn(BaseModel):
    """A notice given to the shop: how, what was said, and when."""

    model_config = ConfigDict(extra="forbid")

    channel: NoticeChannel
    text: Annotated[
        str, Field(min_length=1, max_length=4000, description="What the shop was told.")
    ]
    sent_at: AwareDatetime = Field(description="When the shop was told (ISO 8601 with zone).")


class NoticeOut(BaseModel):
    """A recorded notice."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: int
    case_id: int
    shop_id: str
    shop_name: str
    channel: NoticeChannel
    text: str
    sent_at: datetime
    recorded_by: str
    recorded_at: datetime


class NoticeList(BaseModel):
    """A case's notices, oldest first, and the shop it names."""

    shop_id: str | None
    shop_name: str | None
    items: list[NoticeOut]
