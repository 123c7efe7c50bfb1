"""Webhook subscriptions: create (with a fresh secret), change, remove. Keyword-only, no commit.

The secret is generated here (``whsec_`` and 32 random bytes, URL-safe base64) and handed to
the caller once; it is never logged.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Final
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.org.tables import Unit
from server.webhooks.sender import host_of
from server.webhooks.tables import WebhookEventKind, WebhookSubscription

logger = logging.getLogger(__name__)

SECRET_PREFIX: Final[str] = "whsec_"
MAX_URL_CHARS: Final[int] = 2048


class SubscriptionError(ValueError):
    """A subscription's field is unusable; ``field`` names it, the message says why."""

    def __init__(self, message: str, field: str = "url") -> None:
        super().__init__(message)
        self.field = field


def new_secret() -> str:
    """A fresh signing secret (256 random bits)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def check_url(url: str) -> str:
    """``url`` when it is an absolute http(s) URL with a host and no credentials.

    Raises:
        SubscriptionError: Otherwise, saying why.
    """
    if len(url) > MAX_URL_CHARS:
        raise SubscriptionError(f"url is longer than {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(url)
        _ = parts.port  # a malformed port raises here
    except ValueError as exc:
        raise SubscriptionError(f"url is not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise SubscriptionError("url must start with http:// or https://")
    if not parts.hostname:
        raise SubscriptionError("url has no host")
    if parts.username is not None or parts.password is not None:
        raise SubscriptionError(
            "url must not carry a user name or password: receivers authenticate calls by "
            "their signature"
        )
    if parts.fragment:
        raise SubscriptionError("url must not have a #fragment")
    return url


def _check_unit(session: Session, unit_id: str | None) -> None:
    if unit_id is not None and session.get(Unit, unit_id) is None:
        raise SubscriptionError(f"unit {unit_id!r} does not exist", "unit_id")


def _kinds(kinds: Sequence[WebhookEventKind]) -> list[str]:
    if not kinds:
        raise SubscriptionError("kinds must name at least one event kind", "kinds")
    return sorted({kind.value for kind in kinds})


def create_subscription(
    session: Session,
    *,
    name: str,
    url: str,
    kinds: Sequence[WebhookEventKind],
    unit_id: str | None,
    enabled: bool,
    created_by: str,
    now: datetime,
) -> WebhookSubscription:
    """Add a subscription with a new secret (read it from the returned row, once)."""
    _check_unit(session, unit_id)
    subscription = WebhookSubscription(
        name=name,
        url=check_url(url),
        secret=new_secret(),
        kinds=_kinds(kinds),
        unit_id=unit_id,
        enabled=enabled,
        created_by=created_by,
        created_at=now,
    )
    session.add(subscription)
    session.flush()
    logger.info(
        "webhook subscription %d (%s) to %s added by %s",
        subscription.id,
        name,
        host_of(url),
        created_by,
    )
    return subscription


def list_subscriptions(session: Session) -> list[WebhookSubscription]:
    """Every subscription, oldest first."""
    return list(session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id)))


def update_subscription(
    session: Session,
    *,
    subscription: WebhookSubscription,
    name: str | None = None,
    url: str | None = None,
    kinds: Sequence[WebhookEventKind] | None = None,
    unit_id: str | None = None,
    clear_unit: bool = False,
    enabled: bool | None = None,
    rotate_secret: bool = False,
) -> str | None:
    """Change the given fields; returns the new secret when ``rotate_secret``."""
    if name is not None:
        subscription.name = name
    if url is not None:
        subscription.url = check_url(url)
    if kinds is not None:
        subscription.kinds = _kinds(kinds)
    if clear_unit:
        subscription.unit_id = None
    elif unit_id is not None:
        _check_unit(session, unit_id)
        subscription.unit_id = unit_id
    if enabled is not None:
        subscription.enabled = enabled
    secret = None
    if rotate_secret:
        secret = subscription.secret = new_secret()
    session.flush()
    return secret
