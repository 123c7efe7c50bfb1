"""Camera health samples from the edges: stored per camera, a bounded history each."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from contracts.health import EdgeHealth
from server.cameras.alarms import HealthReading
from server.cameras.tables import CameraHealthSample
from server.org.tables import Camera


def record_health(session: Session, health: EdgeHealth, *, now: datetime) -> int:
    """Store one sample per registered camera of ``health`` (:func:`trim_health` bounds them).

    Returns:
        How many cameras of the sample are registered (the others are not stored).
    """
    by_id = {c.camera_id: c for c in health.cameras}
    if not by_id:
        return 0
    cameras = session.scalars(
        select(Camera).where(Camera.edge_id == health.edge_id, Camera.camera_id.in_(list(by_id)))
    ).all()
    for camera in cameras:
        sample = by_id[camera.camera_id]
        session.add(
            CameraHealthSample(
                camera_pk=camera.id,
                sampled_at=health.sampled_at,
                received_at=now,
                state=sample.state.value,
                frames_received=sample.frames_received,
                frames_analysed=sample.frames_analysed,
                frames_dropped=sample.frames_dropped,
                decode_errors=sample.decode_errors,
                reconnects=sample.reconnects,
                last_frame_age_s=sample.last_frame_age_s,
                detector_latency_ms=sample.detector_latency_p50_ms,
                frozen=sample.frozen,
                view_similarity=sample.view_similarity,
            )
        )
    session.flush()
    return len(cameras)


def trim_health(session: Session, *, keep: int) -> int:
    """Keep the newest ``keep`` samples of each camera; returns how many went."""
    gone = 0
    pks = session.scalars(select(CameraHealthSample.camera_pk).distinct()).all()
    for camera_pk in pks:
        oldest_kept = session.scalars(
            select(CameraHealthSample.id)
            .where(CameraHealthSample.camera_pk == camera_pk)
            .order_by(CameraHealthSample.id.desc())
            .offset(keep - 1)
            .limit(1)
        ).first()
        if oldest_kept is not None:
            result = session.execute(
                delete(CameraHealthSample).where(
                    CameraHealthSample.camera_pk == camera_pk, CameraHealthSample.id < oldest_kept
                )
            )
            gone += int(getattr(result, "rowcount", 0) or 0)
    return gone


def health_history(session: Session, *, camera_pk: int, limit: int) -> list[CameraHealthSample]:
    """The newest ``limit`` samples of a camera, oldest first."""
    rows = session.scalars(
        select(CameraHealthSample)
        .where(CameraHealthSample.camera_pk == camera_pk)
        .order_by(CameraHealthSample.id.desc())
        .limit(limit)
    ).all()
    return list(reversed(rows))


def health_histories(
    session: Session, camera_pks: list[int], *, limit: int
) -> dict[int, list[CameraHealthSample]]:
    """The newest ``limit`` samples of each camera, oldest first, in one query."""
    if not camera_pks:
        return {}
    ranked = (
        select(
            CameraHealthSample.id,
            func.row_number()
            .over(
                partition_by=CameraHealthSample.camera_pk,
                order_by=CameraHealthSample.id.desc(),
            )
            .label("rank"),
        )
        .where(CameraHealthSample.camera_pk.in_(camera_pks))
        .subquery()
    )
    rows = session.scalars(
        select(CameraHealthSample)
        .join(ranked, ranked.c.id == CameraHealthSample.id)
        .where(ranked.c.rank <= limit)
        .order_by(CameraHealthSample.id)
    )
    found: dict[int, list[CameraHealthSample]] = {pk: [] for pk in camera_pks}
    for row in rows:
        found[row.camera_pk].append(row)
    return found


def latest_health(session: Session, camera_pks: list[int]) -> dict[int, CameraHealthSample]:
    """The newest sample of each camera that has one."""
    if not camera_pks:
        return {}
    newest = (
        select(func.max(CameraHealthSample.id))
        .where(CameraHealthSample.camera_pk.in_(camera_pks))
        .group_by(CameraHealthSample.camera_pk)
    )
    rows = session.scalars(select(CameraHealthSample).where(CameraHealthSample.id.in_(newest)))
    return {row.camera_pk: row for row in rows}


def reading_of(sample: CameraHealthSample) -> HealthReading:
    """What the alarm logic reads of a stored sample."""
    return HealthReading(
        reported_at=sample.received_at,
        last_frame_age_s=sample.last_frame_age_s,
        frozen=sample.frozen,
        view_similarity=sample.view_similarity,
    )
