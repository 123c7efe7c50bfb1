"""HTTP API models of the webhooks (what ``/api/v1/webhooks`` accepts and returns).

No output model has a ``secret`` field except :class:`SubscriptionCreated` (and the answer
to a rotation): the secret is shown once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from contracts.ids import ID_PATTERN
from server.webhooks.payloads import WebhookBody
from server.webhooks.tables import DeliveryStatus, WebhookEventKind

_Name = Annotated[str, Field(min_length=1, max_length=128)]
_Url = Annotated[str, Field(min_length=8, max_length=2048, description="http(s) URL.")]
_Kinds = Annotated[list[WebhookEventKind], Field(min_length=1, max_length=len(WebhookEventKind))]
_UnitId = Annotated[str, Field(pattern=ID_PATTERN, max_length=64)]


class SubscriptionIn(BaseModel):
    """A new receiver."""

    model_config = ConfigDict(extra="forbid")

    name: _Name
    url: _Url
    kinds: _Kinds = Field(description="Event kinds to send.")
    unit_id: _UnitId | None = Field(
        default=None, description="Only cases in this unit's subtree (null: every case)."
    )
    enabled: bool = True


class SubscriptionPatch(BaseModel):
    """Fields to change; absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: _Name | None = None
    url: _Url | None = None
    kinds: _Kinds | None = None
    unit_id: _UnitId | None = None
    all_units: bool = Field(default=False, description="Drop the unit limit.")
    enabled: bool | None = None
    rotate_secret: bool = Field(
        default=False, description="Replace the secret; the answer shows the new one once."
    )


class SubscriptionOut(BaseModel):
    """A receiver (its secret is never shown again after creation)."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: int
    name: str
    url: str
    kinds: list[WebhookEventKind]
    unit_id: str | None
    enabled: bool
    created_by: str
    created_at: datetime


class SubscriptionCreated(SubscriptionOut):
    """A receiver just made (or whose secret was just rotated), with its secret, this once."""

    secret: str = Field(description="The HMAC key; store it now, it is not shown again.")


class SubscriptionList(BaseModel):
    items: list[SubscriptionOut]


class AttemptOut(BaseModel):
    """One try of a delivery."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    at: datetime
    worker: str
    status_code: int | None
    error: str | None
    duration_s: float


class DeliveryOut(BaseModel):
    """One event to one receiver."""

    id: int = Field(description="Sent as X-Civicwatch-Delivery: the receiver's idempotency key.")
    subscription_id: int
    subscription_name: str
    event_id: int
    kind: WebhookEventKind
    case_id: int | None
    occurred_at: datetime
    status: DeliveryStatus
    attempts: int = Field(description="Failed attempts since created or last retried by hand.")
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None
    dead_at: datetime | None
    last_status_code: int | None
    last_error: str | None


class DeliveryDetail(DeliveryOut):
    """A delivery with the body it sends and every attempt, newest first."""

    body: WebhookBody = Field(description="The JSON body, as signed and sent.")
    attempt_log: list[AttemptOut]


class DeliveryList(BaseModel):
    items: list[DeliveryOut]
    total: int
    limit: int
    offset: int
