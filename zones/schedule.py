"""Daily time windows ("06:00-09:00") for legal hours and, later, business hours.

A window is written ``"HH:MM-HH:MM"`` in the camera's local time. The start is inclusive and
the end exclusive; ``24:00`` may end a window, and a window whose end is before its start
runs over midnight (``"22:00-02:00"``; ``"22:00-00:00"`` ends at midnight).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_serializer, model_validator
from pydantic_core import PydanticCustomError

_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_MINUTES_PER_DAY = 24 * 60


def _minutes(hours: str, minutes: str, *, is_end: bool) -> int | None:
    h, m = int(hours), int(minutes)
    if m > 59:
        return None
    if h == 24 and m == 0 and is_end:
        return _MINUTES_PER_DAY
    if h > 23:
        return None
    return h * 60 + m


class DailyWindow(BaseModel):
    """A window of local time that repeats every day, written ``"HH:MM-HH:MM"``.

    Example:
        >>> w = DailyWindow.model_validate("22:00-02:00")
        >>> w.contains_minute(23 * 60), w.contains_minute(12 * 60)
        (True, False)
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    start_min: int = Field(
        ge=0, le=_MINUTES_PER_DAY - 1, description="Start, minutes after local midnight."
    )
    end_min: int = Field(
        ge=0,
        le=_MINUTES_PER_DAY,
        description="End (exclusive), minutes after local midnight; before start_min wraps.",
    )

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        if isinstance(value, dict | DailyWindow):
            return value
        if not isinstance(value, str):
            # YAML 1.1 reads an unquoted 18:00 as the number 1080 (base 60).
            hint = (
                "; quote it, YAML reads unquoted HH:MM as a number"
                if isinstance(value, int)
                else ""
            )
            raise PydanticCustomError(
                "time_window",
                "time window must be a string 'HH:MM-HH:MM', got {got}{hint}",
                {"got": repr(value), "hint": hint},
            )
        match = _WINDOW.match(value)
        start = end = None
        if match:
            start = _minutes(match[1], match[2], is_end=False)
            end = _minutes(match[3], match[4], is_end=True)
        if start is None or end is None:
            raise PydanticCustomError(
                "time_window",
                "time window {got} is not 'HH:MM-HH:MM' with hours 00..23 (24:00 as an end)",
                {"got": repr(value)},
            )
        return {"start_min": start, "end_min": end}

    @model_validator(mode="after")
    def _not_empty(self) -> DailyWindow:
        if self.start_min == self.end_min:
            raise PydanticCustomError(
                "time_window",
                "time window {window} is empty: its start equals its end",
                {"window": repr(str(self))},
            )
        return self

    @model_serializer
    def _to_str(self) -> str:
        return str(self)

    def __str__(self) -> str:
        s, e = divmod(self.start_min, 60), divmod(self.end_min, 60)
        return f"{s[0]:02d}:{s[1]:02d}-{e[0]:02d}:{e[1]:02d}"

    def contains_minute(self, minute_of_day: int) -> bool:
        """Whether a local minute of the day (0..1439) falls in the window."""
        if self.start_min < self.end_min:
            return self.start_min <= minute_of_day < self.end_min
        return minute_of_day >= self.start_min or minute_of_day < self.end_min


def in_any_window(windows: Sequence[DailyWindow], ts: datetime, tz: tzinfo) -> bool:
    """Whether ``ts`` falls in any of ``windows``, read as local time in ``tz``.

    Args:
        windows: The daily windows; an empty sequence contains nothing.
        ts: A timezone-aware instant.
        tz: The timezone in which the windows are written.

    Returns:
        ``True`` when the local time of ``ts`` is inside at least one window.

    Raises:
        ValueError: If ``ts`` is naive.
    """
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError("ts must be timezone-aware")
    if not windows:
        return False
    local = ts.astimezone(tz)
    minute = local.hour * 60 + local.minute
    return any(w.contains_minute(minute) for w in windows)
