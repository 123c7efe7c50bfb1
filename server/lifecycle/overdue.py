"""The overdue check: once per interval, mark dispatched cases whose deadline passed.

Each case is marked once (``overdue_at`` and one ``overdue`` transition row, which the
webhooks send on); a re-dispatch or reopen clears the mark. :func:`check_overdue` takes the
time as an argument; :func:`overdue_loop` is what the server runs.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from server.core.db import utcnow
from server.lifecycle.service import mark_overdue

logger = logging.getLogger(__name__)


def check_overdue(factory: sessionmaker[Session], *, now: datetime) -> list[int]:
    """Mark what is overdue at ``now`` in one transaction; returns the case ids marked."""
    with factory() as session, session.begin():
        return mark_overdue(session, now=now)


async def overdue_loop(factory: sessionmaker[Session], *, interval_s: int) -> None:
    """Run :func:`check_overdue` every ``interval_s`` (first at once) until cancelled."""
    while True:
        try:
            await asyncio.to_thread(check_overdue, factory, now=utcnow())
        except Exception:
            logger.exception("overdue check failed; retrying in %d s", interval_s)
        await asyncio.sleep(interval_s)
