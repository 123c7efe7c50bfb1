"""What a tracker is to its callers: the :class:`Tracker` protocol and its snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from edge.types import Detections


@dataclass(frozen=True, slots=True)
class TrackSnapshot:
    """What rules may know of a tracker's state after one update.

    Attributes:
        held: Stationary tracks kept alive although no detection matched them in this frame,
            at their last box and score (``tracker_id`` set), so a rule does not take a
            briefly hidden parked object for gone. They are not detections of this frame.
        stationary_ids: Ids of every stationary track (matched or held) after this frame.
    """

    held: Detections
    stationary_ids: frozenset[int]

    @classmethod
    def empty(cls, names: tuple[str, ...]) -> TrackSnapshot:
        """A snapshot with nothing held and nothing stationary."""
        return cls(Detections.empty(names), frozenset())


class Tracker(Protocol):
    """What the worker needs of a tracker."""

    def update(self, detections: Detections, ts: datetime) -> Detections:
        """Associate one analysed frame's detections; return them with ``tracker_id`` set."""
        ...

    def snapshot(self) -> TrackSnapshot:
        """Stationary and held tracks after the latest :meth:`update`."""
        ...


def require_aware(ts: datetime) -> None:
    """Refuse a naive timestamp: trackers measure real time between frames.

    Raises:
        ValueError: If ``ts`` has no timezone.
    """
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError("ts must be timezone-aware (UTC)")
