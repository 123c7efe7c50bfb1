"""Recording and listing notices to the shop of a cross-door case. Keyword-only, no commit.

Each notice is a ``shop_notices`` row (who recorded it, when) and a ``notice`` record of the
case's file chain, so the notices are part of the case file that can be proved later.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.lifecycle.records import append_record
from server.notices.shop import Shop, shop_from_payloads
from server.notices.tables import NoticeChannel, ShopNotice
from server.tables import Case, CaseEvent

logger = logging.getLogger(__name__)


FILE_RECORD_KIND = "notice"
"""The kind of a notice's record in the case file chain (:mod:`server.lifecycle.file_chain`)."""
MAX_CLOCK_AHEAD = timedelta(minutes=5)
"""How far ``sent_at`` may lie ahead of the server's clock (a phone's clock runs fast)."""


class NoticeConflictError(ValueError):
    """The case takes no shop notice (not cross-door, or no shop named); says why."""


class NoticeInputError(ValueError):
    """The notice itself is unusable (e.g. sent in the future); says why."""


def case_shop(session: Session, *, case: Case) -> Shop | None:
    """The shop a cross-door case names (its newest message that names one)."""
    payloads = session.scalars(
        select(CaseEvent.payload).where(CaseEvent.case_id == case.id).order_by(CaseEvent.sent_at)
    )
    return shop_from_payloads(case.violation_type, payloads)


def record_notice(
    session: Session,
    *,
    case: Case,
    channel: NoticeChannel,
    text: str,
    sent_at: datetime,
    recorded_by: str,
    now: datetime,
) -> ShopNotice:
    """Record that the case's shop was told (``sent_at``, ``channel``, ``text``).

    Raises:
        NoticeConflictError: The case is not a cross-door case, or names no shop.
        NoticeInputError: ``sent_at`` lies in the future.
    """
    if sent_at > now + MAX_CLOCK_AHEAD:
        raise NoticeInputError(f"sent_at {sent_at.isoformat()} lies in the future")
    if case.violation_type != "cross_door":
        raise NoticeConflictError(
            f"case {case.id} is a {case.violation_type} case: shop notices are for "
            "cross-door (跨门经营) cases only"
        )
    shop = case_shop(session, case=case)
    if shop is None:
        raise NoticeConflictError(f"case {case.id} names no shop (its messages carry none)")
    notice = ShopNotice(
        case_id=case.id,
        shop_id=shop.id,
        shop_name=shop.name,
        channel=channel,
        text=text,
        sent_at=sent_at,
        recorded_by=recorded_by,
        recorded_at=now,
    )
    session.add(notice)
    session.flush()
    # The notice becomes part of the case's provable file (its hash chain), like a transition.
    append_record(
        session,
        case_id=case.id,
        kind=FILE_RECORD_KIND,
        at=now,
        actor=recorded_by,
        payload={
            "notice_id": notice.id,
            "shop_id": shop.id,
            "shop_name": shop.name,
            "channel": channel.value,
            "text": text,
            "sent_at": sent_at.isoformat(),
        },
    )
    logger.info(
        "case %d: notice %d to shop %s by %s (%s) recorded by %s",
        case.id,
        notice.id,
        shop.id,
        channel.value,
        sent_at.isoformat(),
        recorded_by,
    )
    return notice


def list_notices(session: Session, *, case_id: int) -> list[ShopNotice]:
    """The case's notices, oldest first."""
    return list(
        session.scalars(
            select(ShopNotice).where(ShopNotice.case_id == case_id).order_by(ShopNotice.id)
        )
    )
