"""Alarm logic: time as an argument, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.cameras.alarms import AlarmKind, AlarmThresholds, HealthReading, alarm_changes

T0 = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
LIMITS = AlarmThresholds(dark_after_s=300.0, view_similarity_min=0.5)


def _reading(
    age: float | None = 0.5, frozen: bool = False, similarity: float | None = 0.9, at: float = 0
) -> HealthReading:
    return HealthReading(
        reported_at=T0 + timedelta(seconds=at),
        last_frame_age_s=age,
        frozen=frozen,
        view_similarity=similarity,
    )


def _kinds(
    reading: HealthReading | None,
    *,
    now_s: float,
    open_kinds: frozenset[AlarmKind] = frozenset(),
    enabled: bool = True,
) -> list[tuple[str, bool]]:
    changes = alarm_changes(
        reading,
        open_kinds=open_kinds,
        enabled=enabled,
        since=T0,
        now=T0 + timedelta(seconds=now_s),
        limits=LIMITS,
    )
    return [(c.kind.value, c.raise_it) for c in changes]


@pytest.mark.parametrize(
    ("case", "reading", "now_s", "expected"),
    [
        ("healthy", _reading(), 5, []),
        ("never reported, young", None, 100, []),
        ("never reported, old", None, 301, [("dark", True)]),
        ("last frame too old", _reading(age=299.0), 2, [("dark", True)]),
        ("last frame just young enough", _reading(age=290.0), 5, []),
        ("edge silent", _reading(), 302, [("dark", True)]),
        ("no frame since start, young camera", _reading(age=None), 10, []),
        ("no frame since start, old camera", _reading(age=None, at=400), 401, [("dark", True)]),
        ("frozen", _reading(frozen=True), 5, [("frozen", True)]),
        ("turned away", _reading(similarity=0.3), 5, [("view_changed", True)]),
        ("no reference", _reading(similarity=None), 5, []),
        (
            "everything",
            _reading(age=1000.0, frozen=True, similarity=0.1),
            5,
            [("dark", True), ("frozen", True), ("view_changed", True)],
        ),
    ],
)
def test_raised(
    case: str, reading: HealthReading | None, now_s: float, expected: list[tuple[str, bool]]
) -> None:
    assert _kinds(reading, now_s=now_s) == expected, case


def test_an_open_alarm_is_not_raised_again_and_clears_when_the_condition_goes() -> None:
    dark = frozenset({AlarmKind.DARK})
    assert _kinds(_reading(age=900.0), now_s=5, open_kinds=dark) == []
    assert _kinds(_reading(age=0.2, at=600), now_s=601, open_kinds=dark) == [("dark", False)]


def test_a_disabled_camera_clears_everything_and_raises_nothing() -> None:
    all_open = frozenset(AlarmKind)
    cleared = _kinds(_reading(age=900.0, frozen=True), now_s=5, open_kinds=all_open, enabled=False)
    assert cleared == [("dark", False), ("frozen", False), ("view_changed", False)]
    assert _kinds(None, now_s=10_000, enabled=False) == []
