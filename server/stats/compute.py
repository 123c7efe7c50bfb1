"""Aggregating case facts into :class:`~server.stats.schemas.Stats` (pure, no I/O).

Days are calendar days in the given zone (Asia/Shanghai for the command center). A case
counts as reviewed when it was confirmed (whatever it went on to: dispatched, disposed,
verified, closed) or rejected; candidates and escalated cases are not reviewed yet.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from server.org.units import UnitIndex
from server.stats.facts import CaseFacts
from server.stats.schemas import ConfirmRate, DayCount, KeyCount, Stats, UnitCount
from server.tables import CaseStatus

CONFIRMED: Final[frozenset[CaseStatus]] = frozenset(
    {
        CaseStatus.CONFIRMED,
        CaseStatus.DISPATCHED,
        CaseStatus.DISPOSED,
        CaseStatus.VERIFIED,
        CaseStatus.CLOSED,
    }
)
"""Statuses a case reaches only by being confirmed (立案)."""
MAX_DAYS: Final[int] = 400
"""Most days listed in ``by_day`` (a longer range lists the newest days)."""


def _unit_count(index: UnitIndex, unit_id: str | None, count: int) -> UnitCount:
    node = index.nodes.get(unit_id) if unit_id is not None else None
    return UnitCount(
        unit_id=unit_id,
        name=node.name if node is not None else None,
        name_en=node.name_en if node is not None else None,
        level=node.level.value if node is not None else None,
        count=count,
    )


def _units(index: UnitIndex, counts: Counter[str | None]) -> list[UnitCount]:
    def order(unit_id: str | None) -> tuple[int, int, str]:
        node = index.nodes.get(unit_id) if unit_id is not None else None
        return (node is None, node.sort_order if node is not None else 0, unit_id or "")

    return [_unit_count(index, unit, counts[unit]) for unit in sorted(counts, key=order)]


def subunit_of(index: UnitIndex, unit_id: str | None, root: str | None) -> str | None:
    """The unit directly under ``root`` that ``unit_id`` lies in (``root`` itself when the
    case is handled there; ``None`` when outside). ``root`` ``None``: the top-level units."""
    if unit_id is None:
        return None
    chain = [unit_id, *index.ancestors(unit_id)]
    if root is None:
        return chain[-1]
    if unit_id == root:
        return root
    if root not in chain:
        return None
    return chain[chain.index(root) - 1]


def _rates(facts: Iterable[CaseFacts], key: Callable[[CaseFacts], str]) -> list[ConfirmRate]:
    reviewed: Counter[str] = Counter()
    confirmed: Counter[str] = Counter()
    for fact in facts:
        if fact.status in CONFIRMED:
            confirmed[key(fact)] += 1
            reviewed[key(fact)] += 1
        elif fact.status is CaseStatus.REJECTED:
            reviewed[key(fact)] += 1
    return [
        ConfirmRate(
            key=name,
            reviewed=reviewed[name],
            confirmed=confirmed[name],
            rate=confirmed[name] / reviewed[name] if reviewed[name] else None,
        )
        for name in sorted(reviewed)
    ]


def _days(
    facts: Sequence[CaseFacts],
    zone: ZoneInfo,
    since: datetime | None,
    until: datetime | None,
) -> list[DayCount]:
    counts = Counter(fact.first_seen.astimezone(zone).date() for fact in facts)
    if not counts and (since is None or until is None):
        return []
    first = since.astimezone(zone).date() if since is not None else min(counts)
    last = (
        (until - timedelta(microseconds=1)).astimezone(zone).date()
        if until is not None
        else max(counts)
    )
    if last < first:
        return []
    first = max(first, last - timedelta(days=MAX_DAYS - 1))
    span = (last - first).days + 1
    return [
        DayCount(day=first + timedelta(days=n), count=counts[first + timedelta(days=n)])
        for n in range(span)
    ]


def compute_stats(
    facts: Sequence[CaseFacts],
    *,
    index: UnitIndex,
    root: str | None,
    since: datetime | None,
    until: datetime | None,
    time_zone: str,
    truncated: bool,
) -> Stats:
    """The statistics of ``facts`` (all cases in reach of the request)."""
    zone = ZoneInfo(time_zone)
    home = Counter(fact.home_unit for fact in facts)
    tops = index.children.get(None, [])
    rollup = root if root is not None or len(tops) != 1 else tops[0]  # one city: its districts
    sub: Counter[str | None] = Counter()
    for unit, count in home.items():
        sub[subunit_of(index, unit, rollup)] += count
    durations = [
        (fact.closed_at - fact.created_at).total_seconds()
        for fact in facts
        if fact.closed_at is not None
    ]
    return Stats(
        unit_id=root,
        since=since,
        until=until,
        time_zone=time_zone,
        total=len(facts),
        truncated=truncated,
        by_unit=_units(index, home),
        by_subunit=_units(index, sub),
        by_violation_type=[
            KeyCount(key=k, count=v)
            for k, v in sorted(Counter(f.violation_type for f in facts).items())
        ],
        by_status=[
            KeyCount(key=k, count=v)
            for k, v in sorted(Counter(f.status.value for f in facts).items())
        ],
        by_day=_days(facts, zone, since, until),
        confirm_rate_by_camera=_rates(facts, lambda f: f"{f.edge_id}/{f.camera_id}"),
        confirm_rate_by_model_version=_rates(facts, lambda f: f.model_version),
        closed=len(durations),
        median_close_s=statistics.median(durations) if durations else None,
        overdue=sum(1 for f in facts if f.overdue_at is not None),
        overdue_open=sum(
            1 for f in facts if f.overdue_at is not None and f.status is not CaseStatus.CLOSED
        ),
    )
