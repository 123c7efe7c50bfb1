"""The JSON body of a webhook call (pydantic models, shown in the OpenAPI) and its builders.

The body is built once, when the event is derived from its source row, and stored; every
attempt sends the same bytes (:func:`body_bytes`), so a receiver that deduplicates on
``X-Civicwatch-Delivery`` sees identical retries.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from server.webhooks.tables import WebhookEventKind

BODY_VERSION: Literal[1] = 1


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UnitRef(_Out):
    """A unit of the command structure."""

    id: str
    name: str = Field(description="Chinese name (黄浦区).")
    name_en: str
    level: str = Field(description="city, district, street or team.")


class ShopRef(_Out):
    """The shop a cross-door case names."""

    id: str
    name: str


class CaseSummary(_Out):
    """The case as it stood when the event was derived."""

    id: int
    event_id: str = Field(description="The edge's stable event id.")
    status: str
    violation_type: str
    edge_id: str
    camera_id: str
    zone_id: str
    rule: str
    label: str
    confidence: float
    first_seen: datetime
    last_seen: datetime
    model_version: str
    unit: UnitRef | None = Field(
        description="The unit handling the case: the assigned unit, else the camera's "
        "street (null: a camera not in the registry)."
    )
    team_unit_id: str | None
    deadline_at: datetime | None
    overdue: bool
    closed_at: datetime | None
    shop: ShopRef | None = Field(description="Cross-door cases: the shop named.")


class TransitionRef(_Out):
    """The lifecycle step that caused the event (null for ``created``)."""

    id: int
    action: str = Field(description="confirm, dispatch, send_back, reopen, overdue, close, ...")
    from_status: str
    to_status: str
    actor: str = Field(description="User name, or 'system'.")
    unit_id: str | None = Field(description="The acting account's unit.")
    at: datetime
    note: str | None
    detail: dict[str, JsonValue]


class CameraAlarmRef(_Out):
    """A camera's alarm (``camera_alarm`` events): dark, frozen picture, turned away."""

    id: int
    camera: int = Field(description="The camera registry id.")
    edge_id: str
    camera_id: str
    camera_name: str
    unit: UnitRef | None = Field(description="The camera's street.")
    kind: str
    raised_at: datetime
    detail: str


class WebhookBody(_Out):
    """What a receiver gets, signed (see the X-Civicwatch-* headers)."""

    version: Literal[1] = BODY_VERSION
    event: int = Field(description="The civicwatch event id (several deliveries may share it).")
    kind: WebhookEventKind
    occurred_at: datetime
    case: CaseSummary | None = None
    transition: TransitionRef | None = None
    alarm: CameraAlarmRef | None = None


def body_bytes(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent for a stored payload: compact, sorted keys, UTF-8."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode(
        "utf-8"
    )
