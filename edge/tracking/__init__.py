"""Object tracking: give each detection a ``tracker_id`` that stays with its object.

Two trackers implement :class:`Tracker`; ``type`` in the config picks one
(:func:`create_tracker`):

* :class:`ByteTracker` (``type: bytetrack``, the default): ByteTrack's two-stage association
  (confident detections first, then the low-scoring ones against the tracks still unmatched,
  which keeps ids through partial occlusion), a constant-velocity Kalman filter per track
  (``cx, cy, aspect, height`` and their velocities, per second of real time, so a dropped
  frame does not derail it), optimal assignment by ``lap.lapjv``, and a centre-distance
  fallback for objects that moved too far between two analysed frames to overlap (at 2 fps a
  passing truck moves half its length). New tracks are *tentative* until seen again.
* :class:`SimpleTracker` (``type: simple``): greedy IoU with a centre-distance fallback.

Both know which tracks are **stationary**: a track whose box centre has stayed within
``max_shift`` of its size for ``after_s`` seconds (:class:`StationarySettings`). ByteTracker
keeps a stationary track alive while it is not detected (a parked stall behind a passing bus)
and *re-verifies* it every ``reverify_every`` analysed frames: a check passes when the track
was matched to any detection, even a low-scoring one, since the previous check; a failed
check ends it. So a parked stall or truck neither vanishes nor comes back under a new id.
:meth:`Tracker.snapshot` tells rules which tracks are stationary and which stationary tracks
are being held without a detection in this frame.

One job a module: :mod:`~edge.tracking.settings` (config), :mod:`~edge.tracking.snapshot`
(the protocol), :mod:`~edge.tracking.matching` (IoU, centre distance, assignment),
:mod:`~edge.tracking.kalman`, :mod:`~edge.tracking.stillness`, and one module a tracker
(:mod:`~edge.tracking.simple`, :mod:`~edge.tracking.bytetrack`).

Why in-house rather than Roboflow's ``trackers``: that package pulls supervision, scipy,
matplotlib and the non-headless ``opencv-python`` (which clashes with the edge's
``opencv-python-headless``), well over 150 MB on the edge image for about 300 lines of logic;
this package needs only numpy and ``lap`` (2.4 MB, BSD) and keeps our ``Detections`` and
timestamps end to end.
"""

from __future__ import annotations

from edge.tracking.bytetrack import ByteTracker
from edge.tracking.kalman import KalmanBoxFilter
from edge.tracking.matching import box_iou, centre_distance, greedy_assignment, linear_assignment
from edge.tracking.settings import (
    ByteTrackSettings,
    SimpleTrackerSettings,
    StationarySettings,
    TrackerSettings,
)
from edge.tracking.simple import SimpleTracker
from edge.tracking.snapshot import Tracker, TrackSnapshot
from edge.tracking.stillness import Stillness

__all__ = [
    "ByteTrackSettings",
    "ByteTracker",
    "KalmanBoxFilter",
    "SimpleTracker",
    "SimpleTrackerSettings",
    "StationarySettings",
    "Stillness",
    "TrackSnapshot",
    "Tracker",
    "TrackerSettings",
    "box_iou",
    "centre_distance",
    "create_tracker",
    "greedy_assignment",
    "linear_assignment",
]


def create_tracker(settings: ByteTrackSettings | SimpleTrackerSettings) -> Tracker:
    """Build the tracker that ``settings.type`` names.

    Example:
        >>> create_tracker(ByteTrackSettings()).__class__.__name__
        'ByteTracker'
    """
    if isinstance(settings, ByteTrackSettings):
        return ByteTracker(settings)
    return SimpleTracker(settings)
