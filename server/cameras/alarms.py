"""When a camera's health raises or clears an alarm: pure logic, time as an argument.

Three alarms (:class:`AlarmKind`):

- ``dark``: no new frame for longer than ``dark_after_s`` — the edge says its last frame is
  that old, or the edge has not reported the camera's health for that long (edge down,
  broker cut: silence is darkness too).
- ``frozen``: the edge reports identical frames (a hung encoder sends the same picture).
- ``view_changed``: the edge's similarity of the view to the reference snapshot the zones
  were drawn on is below ``view_similarity_min`` (a PTZ dome turned away).

Each alarm is raised once and stays open until its condition is gone; a disabled camera
clears every alarm it has.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class AlarmKind(StrEnum):
    """What is wrong with a camera."""

    DARK = "dark"
    FROZEN = "frozen"
    VIEW_CHANGED = "view_changed"


@dataclass(frozen=True, slots=True)
class AlarmThresholds:
    """When the alarms go off (from :class:`server.core.config.CameraAlarmSettings`).

    Attributes:
        dark_after_s: Seconds without a new frame (or without a health report) that make a
            camera dark.
        view_similarity_min: Below this similarity to the reference snapshot the view has
            changed (0..1).
    """

    dark_after_s: float
    view_similarity_min: float


@dataclass(frozen=True, slots=True)
class HealthReading:
    """The latest health the edge reported for a camera, as the alarms read it.

    Attributes:
        reported_at: When the server received it.
        last_frame_age_s: Seconds since the camera's last frame at that time (``None``: no
            frame since the edge started).
        frozen: Whether the edge sees identical frames.
        view_similarity: Similarity to the reference snapshot (``None``: not measured).
    """

    reported_at: datetime
    last_frame_age_s: float | None
    frozen: bool
    view_similarity: float | None


@dataclass(frozen=True, slots=True)
class AlarmChange:
    """One alarm to raise (with what to say) or to clear.

    Attributes:
        kind: The alarm.
        raise_it: ``True`` to raise, ``False`` to clear the open one.
        detail: Why, in words for the operator (raise only).
    """

    kind: AlarmKind
    raise_it: bool
    detail: str = ""


def _conditions(
    reading: HealthReading | None, *, since: datetime, now: datetime, limits: AlarmThresholds
) -> dict[AlarmKind, str]:
    """The alarms whose condition holds now, each with its detail."""
    found: dict[AlarmKind, str] = {}
    if reading is None:
        silent = (now - since).total_seconds()
        if silent > limits.dark_after_s:
            found[AlarmKind.DARK] = f"no health report for {silent:.0f} s"
        return found
    silent = (now - reading.reported_at).total_seconds()
    if silent > limits.dark_after_s:
        found[AlarmKind.DARK] = f"no health report for {silent:.0f} s"
    elif reading.last_frame_age_s is None:
        if (now - since).total_seconds() > limits.dark_after_s:
            found[AlarmKind.DARK] = "no frame since the edge started"
    elif reading.last_frame_age_s + max(0.0, silent) > limits.dark_after_s:
        age = reading.last_frame_age_s + max(0.0, silent)
        found[AlarmKind.DARK] = f"last frame {age:.0f} s ago"
    if reading.frozen:
        found[AlarmKind.FROZEN] = "identical frames (frozen picture)"
    similarity = reading.view_similarity
    if similarity is not None and similarity < limits.view_similarity_min:
        found[AlarmKind.VIEW_CHANGED] = (
            f"view similarity {similarity:.2f} to the reference snapshot is below "
            f"{limits.view_similarity_min:.2f}"
        )
    return found


def alarm_changes(
    reading: HealthReading | None,
    *,
    open_kinds: frozenset[AlarmKind],
    enabled: bool,
    since: datetime,
    now: datetime,
    limits: AlarmThresholds,
) -> list[AlarmChange]:
    """What to raise and clear for one camera now.

    Args:
        reading: The camera's latest health (``None``: never reported).
        open_kinds: The alarms open for it.
        enabled: Whether the camera is enabled (a disabled one clears everything).
        since: When the camera was registered or last enabled (silence counts from here
            when it never reported).
        now: The time to judge at.
        limits: The thresholds.

    Returns:
        Changes in the order of :class:`AlarmKind`; empty when nothing changes.

    Example:
        >>> from datetime import UTC, datetime, timedelta
        >>> t0 = datetime(2025, 1, 1, tzinfo=UTC)
        >>> reading = HealthReading(t0, last_frame_age_s=400.0, frozen=False, view_similarity=None)
        >>> limits = AlarmThresholds(dark_after_s=300, view_similarity_min=0.5)
        >>> [c.kind.value for c in alarm_changes(reading, open_kinds=frozenset(), enabled=True,
        ...     since=t0, now=t0 + timedelta(seconds=5), limits=limits)]
        ['dark']
    """
    holding = _conditions(reading, since=since, now=now, limits=limits) if enabled else {}
    changes: list[AlarmChange] = []
    for kind in AlarmKind:
        if kind in holding and kind not in open_kinds:
            changes.append(AlarmChange(kind=kind, raise_it=True, detail=holding[kind]))
        elif kind not in holding and kind in open_kinds:
            changes.append(AlarmChange(kind=kind, raise_it=False))
    return changes
