"""Daily windows: parsing, containment (including over midnight) and timezones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from zones.schedule import DailyWindow, in_any_window

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("06:00-09:00", 360, 540),
        ("6:00-9:30", 360, 570),
        (" 18:00 - 22:00 ", 1080, 1320),
        ("22:00-02:00", 1320, 120),
        ("00:00-24:00", 0, 1440),
        ("23:59-00:00", 1439, 0),
    ],
)
def test_parse(text: str, start: int, end: int) -> None:
    window = DailyWindow.model_validate(text)
    assert (window.start_min, window.end_min) == (start, end)
    assert DailyWindow.model_validate(str(window)) == window
    dumped: object = window.model_dump()
    assert dumped == str(window)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "is not 'HH:MM-HH:MM'"),
        ("06:00", "is not 'HH:MM-HH:MM'"),
        ("06:00-", "is not 'HH:MM-HH:MM'"),
        ("6-9", "is not 'HH:MM-HH:MM'"),
        ("24:00-06:00", "is not 'HH:MM-HH:MM'"),
        ("06:00-24:30", "is not 'HH:MM-HH:MM'"),
        ("06:75-07:00", "is not 'HH:MM-HH:MM'"),
        ("aa:bb-cc:dd", "is not 'HH:MM-HH:MM'"),
        ("08:00-08:00", "is empty"),
        ("00:00-00:00", "is empty"),
        (1080, "quote it"),
        (None, "must be a string"),
        (["06:00", "09:00"], "must be a string"),
    ],
)
def test_malformed(value: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        DailyWindow.model_validate(value)


@pytest.mark.parametrize(
    ("window", "minute", "inside"),
    [
        ("06:00-09:00", 359, False),
        ("06:00-09:00", 360, True),
        ("06:00-09:00", 539, True),
        ("06:00-09:00", 540, False),
        ("22:00-02:00", 1319, False),
        ("22:00-02:00", 1320, True),
        ("22:00-02:00", 0, True),
        ("22:00-02:00", 119, True),
        ("22:00-02:00", 120, False),
        ("00:00-24:00", 0, True),
        ("00:00-24:00", 1439, True),
        ("22:00-00:00", 1439, True),
        ("22:00-00:00", 0, False),
    ],
)
def test_contains_minute(window: str, minute: int, inside: bool) -> None:
    assert DailyWindow.model_validate(window).contains_minute(minute) is inside


def test_in_any_window_reads_local_time() -> None:
    windows = [DailyWindow.model_validate("06:00-09:00"), DailyWindow.model_validate("18:00-22:00")]
    # 23:30 UTC is 07:30 the next day in Shanghai (UTC+8).
    ts = datetime(2026, 1, 5, 23, 30, tzinfo=UTC)
    assert in_any_window(windows, ts, SHANGHAI)
    assert not in_any_window(windows, ts, UTC)
    # The same instant given in another offset is the same instant.
    assert in_any_window(windows, ts.astimezone(timezone(timedelta(hours=-5))), SHANGHAI)
    assert not in_any_window(windows, ts + timedelta(hours=2), SHANGHAI)  # 09:30 local
    assert not in_any_window([], ts, SHANGHAI)


def test_in_any_window_refuses_naive_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        in_any_window([], datetime(2026, 1, 5, 12, 0), SHANGHAI)
