"""The server's request that an edge re-send part of its evidence chain.

The edges' outboxes and chains are the source of truth. When the server finds a gap in
an edge's chain, or learns that the broker lost its session (and with it whatever was
queued for it), it publishes a :class:`ResendRequest` on
:func:`contracts.topics.resend_topic` (retained, so an edge that is offline gets it when
it connects). The edge re-publishes the signed records ``from_seq`` .. ``to_seq`` and the
events and evidence they cover that it still keeps; the server is idempotent on all of
them. An edge handles each ``request_id`` once.

Example:
    >>> ResendRequest.model_validate_json(
    ...     '{"request_id": "r1", "edge_id": "edge-1", "from_seq": 5, "to_seq": 7,'
    ...     ' "reason": "gap", "requested_at": "2024-05-01T10:00:00Z"}'
    ... ).to_seq
    7
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from contracts.ids import Identifier

MAX_RESEND_REQUEST_BYTES = 4096
"""A resend request larger than this is refused unread."""


class ResendReason(StrEnum):
    """Why the server asks."""

    GAP = "gap"  # a record is missing between two the server has
    SESSION_LOST = "session_lost"  # the broker lost the server's session and its queue


class ResendRequest(BaseModel):
    """Re-send chain records ``from_seq`` .. ``to_seq`` (open-ended when ``to_seq`` is null)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    request_id: Identifier = Field(description="Unique per request; an edge acts on it once.")
    edge_id: Identifier = Field(description="The edge asked; must be the one subscribed.")
    from_seq: int = Field(ge=1, description="First chain sequence number to re-send.")
    to_seq: int | None = Field(
        default=None, ge=1, description="Last one; null: everything after from_seq."
    )
    reason: ResendReason
    requested_at: AwareDatetime

    @model_validator(mode="after")
    def _check_range(self) -> Self:
        if self.to_seq is not None and self.to_seq < self.from_seq:
            raise ValueError(f"to_seq {self.to_seq} is before from_seq {self.from_seq}")
        return self

    def to_json(self) -> bytes:
        return self.model_dump_json().encode("utf-8")

    @classmethod
    def from_json(cls, payload: bytes) -> ResendRequest:
        """Parse a request.

        Raises:
            ValueError: Too large, or not a valid request (pydantic's message).
        """
        if len(payload) > MAX_RESEND_REQUEST_BYTES:
            raise ValueError(f"resend request of {len(payload)} bytes is too large")
        return cls.model_validate_json(payload)
