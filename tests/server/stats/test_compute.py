"""Aggregating case facts (pure): units and roll-ups, Shanghai days, rates, median, overdue."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from server.org.tables import UnitLevel
from server.org.units import UnitIndex, UnitNode
from server.stats.compute import compute_stats, subunit_of
from server.stats.facts import CaseFacts
from server.tables import CaseStatus

T = datetime(2024, 5, 1, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
INDEX = UnitIndex.build(
    [
        UnitNode("sh", "上海市", "Shanghai", UnitLevel.CITY, None, 0),
        UnitNode("hp", "黄浦区", "Huangpu", UnitLevel.DISTRICT, "sh", 0),
        UnitNode("hp-a", "南京东路街道", "Nanjing E", UnitLevel.STREET, "hp", 0),
        UnitNode("hp-b", "外滩街道", "Bund", UnitLevel.STREET, "hp", 1),
        UnitNode("hp-a-t1", "一队", "Team 1", UnitLevel.TEAM, "hp-a", 0),
        UnitNode("xh", "徐汇区", "Xuhui", UnitLevel.DISTRICT, "sh", 1),
    ]
)


def fact(
    n: int,
    *,
    status: CaseStatus = CaseStatus.CANDIDATE,
    unit: str | None = "hp-a",
    first_seen: datetime = T,
    closed_after_s: float | None = None,
    overdue: bool = False,
    camera: str = "cam-a",
    version: str = "1",
    violation: str = "street_stall",
) -> CaseFacts:
    return CaseFacts(
        id=n,
        violation_type=violation,
        status=status,
        edge_id="edge-1",
        camera_id=camera,
        home_unit=unit,
        model_version=version,
        first_seen=first_seen,
        created_at=first_seen,
        closed_at=first_seen + timedelta(seconds=closed_after_s)
        if closed_after_s is not None
        else None,
        overdue_at=first_seen if overdue else None,
    )


def _stats(facts: list[CaseFacts], root: str | None = None, **kw: datetime):  # type: ignore[no-untyped-def]
    return compute_stats(
        facts,
        index=INDEX,
        root=root,
        since=kw.get("since"),
        until=kw.get("until"),
        time_zone="Asia/Shanghai",
        truncated=False,
    )


def test_no_cases() -> None:
    stats = _stats([])
    assert stats.total == 0 and stats.by_day == [] and stats.by_unit == []
    assert stats.median_close_s is None and stats.confirm_rate_by_camera == []
    ranged = _stats([], since=T, until=T + timedelta(days=2))
    assert [d.count for d in ranged.by_day] == [0, 0, 0]  # zeros for every day in range


@pytest.mark.parametrize(
    ("unit", "root", "expected"),
    [
        ("hp-a", None, "sh"),
        ("hp-a", "sh", "hp"),
        ("hp-a", "hp", "hp-a"),
        ("hp-a-t1", "hp", "hp-a"),
        ("hp", "hp", "hp"),  # handled by the district itself
        ("xh", "hp", None),  # outside
        (None, "sh", None),  # unregistered camera
    ],
)
def test_subunit_of(unit: str | None, root: str | None, expected: str | None) -> None:
    assert subunit_of(INDEX, unit, root) == expected


def test_counts_rates_median_and_overdue() -> None:
    facts = [
        fact(1, status=CaseStatus.CLOSED, closed_after_s=3600, camera="cam-a", version="1"),
        fact(2, status=CaseStatus.CLOSED, closed_after_s=7200, camera="cam-a", version="2"),
        fact(3, status=CaseStatus.CLOSED, closed_after_s=60, unit="hp-b", version="2"),
        fact(4, status=CaseStatus.REJECTED, camera="cam-b"),
        fact(5, status=CaseStatus.DISPATCHED, overdue=True, camera="cam-b", violation="cross_door"),
        fact(6, status=CaseStatus.CANDIDATE, unit=None, first_seen=T + timedelta(hours=1)),
        fact(7, status=CaseStatus.ESCALATED, unit="hp", camera="cam-b"),
        fact(8, status=CaseStatus.CLOSED, overdue=True, closed_after_s=10, unit="hp-a-t1"),
    ]
    stats = _stats(facts, root="sh")
    assert stats.total == 8
    assert {(u.unit_id, u.count) for u in stats.by_unit} == {
        ("hp-a", 4),
        ("hp-b", 1),
        ("hp", 1),
        ("hp-a-t1", 1),
        (None, 1),
    }
    assert stats.by_unit[-1].unit_id is None  # unregistered cameras last
    assert {(u.unit_id, u.count) for u in stats.by_subunit} == {("hp", 7), (None, 1)}
    hp = next(u for u in stats.by_subunit if u.unit_id == "hp")
    assert (hp.name, hp.level) == ("黄浦区", "district")
    assert {(k.key, k.count) for k in stats.by_violation_type} == {
        ("street_stall", 7),
        ("cross_door", 1),
    }
    statuses = {k.key: k.count for k in stats.by_status}
    assert statuses == {"closed": 4, "rejected": 1, "dispatched": 1, "candidate": 1, "escalated": 1}
    # 23:00 and 00:00 in Shanghai are two days although both are 1 May in UTC.
    days = [(d.day, d.count) for d in stats.by_day]
    assert days == [(date(2024, 5, 1), 7), (date(2024, 5, 2), 1)]
    cams = {r.key: (r.confirmed, r.reviewed, r.rate) for r in stats.confirm_rate_by_camera}
    assert cams == {"edge-1/cam-a": (4, 4, 1.0), "edge-1/cam-b": (1, 2, 0.5)}
    versions = {r.key: (r.confirmed, r.reviewed) for r in stats.confirm_rate_by_model_version}
    assert versions == {"1": (3, 4), "2": (2, 2)}
    assert stats.closed == 4
    assert stats.median_close_s == pytest.approx((60 + 3600) / 2)
    assert (stats.overdue, stats.overdue_open) == (2, 1)


def test_day_range_follows_since_and_until_in_shanghai() -> None:
    since = datetime(2024, 4, 29, 16, 0, tzinfo=UTC)  # 30 April 00:00 Shanghai
    until = datetime(2024, 5, 2, 16, 0, tzinfo=UTC)  # 3 May 00:00 Shanghai (excluded)
    stats = _stats([fact(1)], since=since, until=until)
    assert [(d.day.isoformat(), d.count) for d in stats.by_day] == [
        ("2024-04-30", 0),
        ("2024-05-01", 1),
        ("2024-05-02", 0),
    ]
