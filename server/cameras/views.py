"""API views of cameras: the registry row, settings (URL redacted), health, alarms, apply state.

Built for a whole page of cameras with a fixed number of queries.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.cameras.alarm_store import open_alarms
from server.cameras.edge_config import latest_zone_versions
from server.cameras.health_store import latest_health
from server.cameras.redact import redact_url
from server.cameras.registry import RegisteredCamera
from server.cameras.schemas import AlarmOut, ApplyOut, CameraOut, HealthOut
from server.cameras.tables import CameraAlarm, CameraHealthSample, EdgeConfig, ZoneVersion


def health_out(sample: CameraHealthSample) -> HealthOut:
    return HealthOut(
        sampled_at=sample.sampled_at,
        state=sample.state,
        frames_received=sample.frames_received,
        frames_analysed=sample.frames_analysed,
        frames_dropped=sample.frames_dropped,
        decode_errors=sample.decode_errors,
        reconnects=sample.reconnects,
        last_frame_age_s=sample.last_frame_age_s,
        detector_latency_ms=sample.detector_latency_ms,
        frozen=sample.frozen,
        view_similarity=sample.view_similarity,
    )


def alarm_out(alarm: CameraAlarm) -> AlarmOut:
    return AlarmOut(
        id=alarm.id,
        camera=alarm.camera_pk,
        kind=alarm.kind,
        raised_at=alarm.raised_at,
        cleared_at=alarm.cleared_at,
        detail=alarm.detail,
    )


def apply_out(
    registered: RegisteredCamera, latest: ZoneVersion | None, config: EdgeConfig | None
) -> ApplyOut:
    """Whether the edge runs the camera's newest zone version, or the edge's error."""
    settings = registered.settings
    applied_version = settings.applied_zone_version if settings is not None else None
    latest_number = latest.version if latest is not None else None
    refused = (
        config is not None
        and config.state == "refused"
        and config.received_version is not None
        and config.received_version >= config.version
    )
    return ApplyOut(
        latest_zone_version=latest_number,
        applied_zone_version=applied_version,
        applied_at=settings.applied_at if settings is not None else None,
        applied=latest_number is not None and applied_version == latest_number,
        config_version=config.version if config is not None else None,
        edge_running_version=config.running_version if config is not None else None,
        edge_error=config.error if refused and config is not None else None,
        edge_reported_at=config.status_at if config is not None else None,
    )


def _state(registered: RegisteredCamera, health: CameraHealthSample | None, alarms: int) -> str:
    if not registered.camera.enabled:
        return "disabled"
    if alarms:
        return "alarm"
    return health.state if health is not None else "unknown"


def camera_views(session: Session, cameras: list[RegisteredCamera]) -> list[CameraOut]:
    """The API view of each camera, in order."""
    pks = [r.camera.id for r in cameras]
    health = latest_health(session, pks)
    alarms: dict[int, list[CameraAlarm]] = {}
    for alarm in open_alarms(session, pks):
        alarms.setdefault(alarm.camera_pk, []).append(alarm)
    zones = latest_zone_versions(session, pks)
    edges = sorted({r.camera.edge_id for r in cameras})
    configs = (
        {
            c.edge_id: c
            for c in session.scalars(select(EdgeConfig).where(EdgeConfig.edge_id.in_(edges)))
        }
        if edges
        else {}
    )
    views: list[CameraOut] = []
    for registered in cameras:
        camera, settings = registered.camera, registered.settings
        sample = health.get(camera.id)
        mine = alarms.get(camera.id, [])
        views.append(
            CameraOut(
                id=camera.id,
                edge_id=camera.edge_id,
                camera_id=camera.camera_id,
                name=camera.name,
                unit_id=camera.unit_id,
                lat=camera.lat,
                lon=camera.lon,
                enabled=camera.enabled,
                stream_url=redact_url(settings.stream_url) if settings is not None else None,
                profile=settings.profile if settings is not None else None,
                state=_state(registered, sample, len(mine)),
                health=health_out(sample) if sample is not None else None,
                alarms=[alarm_out(a) for a in mine],
                apply=apply_out(registered, zones.get(camera.id), configs.get(camera.edge_id)),
            )
        )
    return views
