"""Webhooks: subscriptions (admins), the delivery log, dead letters and the retry button."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Response, status

from server.api.deps import AdminDep, SessionDep
from server.core.db import utcnow
from server.webhooks import delivery as deliveries
from server.webhooks import subscriptions
from server.webhooks.payloads import WebhookBody
from server.webhooks.schemas import (
    AttemptOut,
    DeliveryDetail,
    DeliveryList,
    DeliveryOut,
    SubscriptionCreated,
    SubscriptionIn,
    SubscriptionList,
    SubscriptionOut,
    SubscriptionPatch,
)
from server.webhooks.tables import DeliveryStatus, WebhookDelivery, WebhookSubscription

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

SubscriptionId = Annotated[int, Path(ge=1, le=2**62, description="The subscription id.")]
DeliveryId = Annotated[int, Path(ge=1, le=2**62, description="The delivery id.")]
_NO_SUBSCRIPTION: dict[int | str, dict[str, Any]] = {404: {"description": "No such subscription."}}
_NO_DELIVERY: dict[int | str, dict[str, Any]] = {404: {"description": "No such delivery."}}


def _bad_request(exc: subscriptions.SubscriptionError) -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors (what the OpenAPI spec declares)."""
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=[{"loc": ["body", exc.field], "msg": str(exc), "type": "value_error"}],
    )


def _delivery_out(row: WebhookDelivery) -> DeliveryOut:
    return DeliveryOut(
        id=row.id,
        subscription_id=row.subscription_id,
        subscription_name=row.subscription.name,
        event_id=row.event_id,
        kind=row.event.kind,
        case_id=row.event.case_id,
        occurred_at=row.event.occurred_at,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
        dead_at=row.dead_at,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
    )


def _subscription(session: SessionDep, subscription_id: int) -> WebhookSubscription:
    row = session.get(WebhookSubscription, subscription_id)
    if row is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"webhook subscription {subscription_id} not found"
        )
    return row


@router.get("/deliveries", response_model=DeliveryList, summary="The delivery log")
def read_deliveries(
    session: SessionDep,
    _principal: AdminDep,
    delivery_status: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
    subscription_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    case_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> DeliveryList:
    """Deliveries, newest first; ``status=dead`` is the dead-letter list."""
    page = deliveries.list_deliveries(
        session,
        status=delivery_status,
        subscription_id=subscription_id,
        case_id=case_id,
        limit=limit,
        offset=offset,
    )
    return DeliveryList(
        items=[_delivery_out(row) for row in page.items],
        total=page.total,
        limit=limit,
        offset=offset,
    )


@router.get("/dead-letters", response_model=DeliveryList, summary="The dead letters")
def read_dead_letters(
    session: SessionDep,
    principal: AdminDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> DeliveryList:
    """Deliveries that failed ``max_attempts`` times and wait for a retry by hand."""
    return read_deliveries(
        session, principal, DeliveryStatus.DEAD, None, None, limit=limit, offset=offset
    )


@router.get(
    "/deliveries/{delivery_id}",
    response_model=DeliveryDetail,
    responses=_NO_DELIVERY,
    summary="One delivery and its attempts",
)
def read_delivery(
    session: SessionDep, _principal: AdminDep, delivery_id: DeliveryId
) -> DeliveryDetail:
    row = session.get(WebhookDelivery, delivery_id)
    if row is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"webhook delivery {delivery_id} not found"
        )
    attempts = deliveries.attempts_of(session, delivery_id=delivery_id)
    return DeliveryDetail(
        **_delivery_out(row).model_dump(),
        body=WebhookBody.model_validate(row.event.payload),
        attempt_log=[AttemptOut.model_validate(attempt) for attempt in attempts],
    )


@router.post(
    "/deliveries/{delivery_id}/retry",
    response_model=DeliveryOut,
    responses={
        **_NO_DELIVERY,
        409: {"description": "Delivered already, or an attempt is in flight."},
    },
    summary="Retry a delivery now",
)
def retry_delivery(
    session: SessionDep, principal: AdminDep, delivery_id: DeliveryId
) -> DeliveryOut:
    """Make a dead (or waiting) delivery due now, with a fresh count of attempts.

    The dispatcher sends it in its next round; the same ``X-Civicwatch-Delivery`` id is sent
    again, so a receiver that got it before can tell.
    """
    try:
        row = deliveries.retry_delivery(session, delivery_id=delivery_id, now=utcnow())
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    except deliveries.DeliveryConflictError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    session.commit()
    logger.info("webhook delivery %d retried by %s", delivery_id, principal.username)
    return _delivery_out(row)


@router.get("", response_model=SubscriptionList, summary="List subscriptions")
def read_subscriptions(session: SessionDep, _principal: AdminDep) -> SubscriptionList:
    return SubscriptionList(
        items=[
            SubscriptionOut.model_validate(row) for row in subscriptions.list_subscriptions(session)
        ]
    )


@router.post(
    "",
    response_model=SubscriptionCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Add a subscription",
)
def create_subscription(
    session: SessionDep, principal: AdminDep, body: SubscriptionIn
) -> SubscriptionCreated:
    """Add a receiver; the answer carries its signing secret, shown this once."""
    try:
        row = subscriptions.create_subscription(
            session,
            name=body.name,
            url=body.url,
            kinds=body.kinds,
            unit_id=body.unit_id,
            enabled=body.enabled,
            created_by=principal.username,
            now=utcnow(),
        )
    except subscriptions.SubscriptionError as exc:
        raise _bad_request(exc) from exc
    session.commit()
    return SubscriptionCreated(
        **SubscriptionOut.model_validate(row).model_dump(), secret=row.secret
    )


@router.get(
    "/{subscription_id}",
    response_model=SubscriptionOut,
    responses=_NO_SUBSCRIPTION,
    summary="One subscription",
)
def read_subscription(
    session: SessionDep, _principal: AdminDep, subscription_id: SubscriptionId
) -> SubscriptionOut:
    return SubscriptionOut.model_validate(_subscription(session, subscription_id))


@router.patch(
    "/{subscription_id}",
    response_model=SubscriptionOut | SubscriptionCreated,
    responses=_NO_SUBSCRIPTION,
    summary="Change a subscription",
)
def update_subscription(
    session: SessionDep,
    principal: AdminDep,
    subscription_id: SubscriptionId,
    body: SubscriptionPatch,
) -> SubscriptionOut | SubscriptionCreated:
    """Change fields, enable or disable, or rotate the secret (then shown this once)."""
    row = _subscription(session, subscription_id)
    try:
        secret = subscriptions.update_subscription(
            session,
            subscription=row,
            name=body.name,
            url=body.url,
            kinds=body.kinds,
            unit_id=body.unit_id,
            clear_unit=body.all_units,
            enabled=body.enabled,
            rotate_secret=body.rotate_secret,
        )
    except subscriptions.SubscriptionError as exc:
        raise _bad_request(exc) from exc
    session.commit()
    logger.info("webhook subscription %d changed by %s", row.id, principal.username)
    out = SubscriptionOut.model_validate(row)
    if secret is not None:
        return SubscriptionCreated(**out.model_dump(), secret=secret)
    return out


@router.delete(
    "/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_NO_SUBSCRIPTION,
    summary="Remove a subscription",
)
def delete_subscription(
    session: SessionDep, principal: AdminDep, subscription_id: SubscriptionId
) -> Response:
    """Remove the receiver and its delivery log."""
    session.delete(_subscription(session, subscription_id))
    session.commit()
    logger.info("webhook subscription %d removed by %s", subscription_id, principal.username)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
