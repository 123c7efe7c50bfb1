"""Raise and clear camera alarms from the stored health (the logic is :mod:`.alarms`)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.cameras.alarms import AlarmThresholds, alarm_changes
from server.cameras.health_store import latest_health, reading_of
from server.cameras.tables import CameraAlarm, CameraSettings
from server.org.tables import Camera

logger = logging.getLogger(__name__)


def open_alarms(session: Session, camera_pks: list[int] | None = None) -> list[CameraAlarm]:
    """Open alarms (of ``camera_pks``, or of every camera), oldest first."""
    query = select(CameraAlarm).where(CameraAlarm.cleared_at.is_(None))
    if camera_pks is not None:
        query = query.where(CameraAlarm.camera_pk.in_(camera_pks))
    return list(session.scalars(query.order_by(CameraAlarm.id)))


def check_alarms(session: Session, *, now: datetime, limits: AlarmThresholds) -> int:
    """Judge every configured camera's health at ``now``; returns how many alarms changed.

    Only cameras with settings (ones an edge was told to run) are judged.
    """
    cameras = list(
        session.scalars(select(Camera).join(CameraSettings, CameraSettings.camera_pk == Camera.id))
    )
    pks = [c.id for c in cameras]
    latest = latest_health(session, pks)
    opened: dict[int, dict[str, CameraAlarm]] = {}
    for alarm in open_alarms(session, pks):
        opened.setdefault(alarm.camera_pk, {})[alarm.kind.value] = alarm
    settings = {s.camera_pk: s for s in session.scalars(select(CameraSettings))}
    changed = 0
    for camera in cameras:
        sample = latest.get(camera.id)
        mine = opened.get(camera.id, {})
        since = max(camera.created_at, settings[camera.id].updated_at)
        for change in alarm_changes(
            reading_of(sample) if sample is not None else None,
            open_kinds=frozenset(a.kind for a in mine.values()),
            enabled=camera.enabled,
            since=since,
            now=now,
            limits=limits,
        ):
            changed += 1
            if change.raise_it:
                session.add(
                    CameraAlarm(
                        camera_pk=camera.id, kind=change.kind, raised_at=now, detail=change.detail
                    )
                )
                logger.warning(
                    "camera %s/%s: alarm %s: %s",
                    camera.edge_id,
                    camera.camera_id,
                    change.kind.value,
                    change.detail,
                )
            else:
                mine[change.kind.value].cleared_at = now
                logger.info(
                    "camera %s/%s: alarm %s cleared", camera.edge_id, camera.camera_id, change.kind
                )
    session.flush()
    return changed
