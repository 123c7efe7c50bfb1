"""Each edge's whole config (its cameras and their newest zone files) and the edge's report.

Every change that an edge must run (a camera added, changed, enabled or disabled, a zone
version saved or rolled back) calls :func:`bump_edge_config` in the same transaction, so
the edge's version grows by one per change and :func:`build_edge_config` rebuilt from the
committed rows is always that version's content (the publisher sends it after the commit and
again after every reconnect).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contracts.control import ApplyState, ConfigStatus, ControlCamera, EdgeConfigMessage
from server.cameras.tables import CameraSettings, EdgeConfig, ZoneVersion
from server.org.tables import Camera

logger = logging.getLogger(__name__)


def bump_edge_config(session: Session, *, edge_id: str, now: datetime) -> EdgeConfig:
    """One more config version for ``edge_id`` (the first is 1)."""
    row = session.get(EdgeConfig, edge_id, with_for_update=True)
    if row is None:
        row = EdgeConfig(edge_id=edge_id, version=1, issued_at=now)
        session.add(row)
    else:
        row.version += 1
        row.issued_at = now
    session.flush()
    return row


def latest_zone_versions(session: Session, camera_pks: list[int]) -> dict[int, ZoneVersion]:
    """The newest zone version of each camera that has one."""
    if not camera_pks:
        return {}
    newest = (
        select(ZoneVersion.camera_pk, func.max(ZoneVersion.version).label("version"))
        .where(ZoneVersion.camera_pk.in_(camera_pks))
        .group_by(ZoneVersion.camera_pk)
        .subquery()
    )
    rows = session.scalars(
        select(ZoneVersion).join(
            newest,
            (ZoneVersion.camera_pk == newest.c.camera_pk)
            & (ZoneVersion.version == newest.c.version),
        )
    )
    return {row.camera_pk: row for row in rows}


def build_edge_config(session: Session, *, edge_id: str) -> EdgeConfigMessage | None:
    """The config message of ``edge_id`` at its current version (``None``: it has none).

    Cameras without settings (registered by a units file, no stream URL yet) are not part
    of it: the edge could not read them.
    """
    config = session.get(EdgeConfig, edge_id)
    if config is None:
        return None
    rows = session.execute(
        select(Camera, CameraSettings)
        .join(CameraSettings, CameraSettings.camera_pk == Camera.id)
        .where(Camera.edge_id == edge_id)
        .order_by(Camera.camera_id)
    ).all()
    zones = latest_zone_versions(session, [camera.id for camera, _ in rows])
    cameras: list[ControlCamera] = []
    for camera, settings in rows:
        version = zones.get(camera.id)
        if version is None:
            logger.warning(
                "camera %s/%s has no zone version; left out of config %d",
                edge_id,
                camera.camera_id,
                config.version,
            )
            continue
        cameras.append(
            ControlCamera(
                camera_id=camera.camera_id,
                name=camera.name,
                stream_url=settings.stream_url,
                profile=settings.profile,
                enabled=camera.enabled,
                zones_yaml=version.zones_yaml,
                zone_version=version.version,
                reference_sha256=version.reference_sha256,
            )
        )
    return EdgeConfigMessage(
        edge_id=edge_id, version=config.version, issued_at=config.issued_at, cameras=cameras
    )


def configured_edges(session: Session) -> list[str]:
    """Every edge that has a config version."""
    return list(session.scalars(select(EdgeConfig.edge_id).order_by(EdgeConfig.edge_id)))


def mark_published(session: Session, *, edge_id: str, version: int, now: datetime) -> None:
    """Note that ``version`` of ``edge_id``'s config reached the broker."""
    row = session.get(EdgeConfig, edge_id)
    if row is not None and row.version == version:
        row.published_at = now


def record_status(session: Session, status: ConfigStatus, *, now: datetime) -> int:
    """Store what an edge reports about its config; returns how many cameras it named.

    The per-camera zone version it runs goes to ``camera_settings``; the version it was
    answering, the state and the error to ``edge_configs``.
    """
    row = session.get(EdgeConfig, status.edge_id)
    if row is None:
        row = EdgeConfig(edge_id=status.edge_id, version=0, issued_at=now)
        session.add(row)
    row.received_version = status.received_version
    row.running_version = status.running_version
    row.state = status.state.value
    row.error = status.error if status.state is ApplyState.REFUSED else None
    row.source = status.source
    row.status_at = now
    by_id = {c.camera_id: c for c in status.cameras}
    if not by_id:
        return 0
    pairs = session.execute(
        select(Camera, CameraSettings)
        .join(CameraSettings, CameraSettings.camera_pk == Camera.id)
        .where(Camera.edge_id == status.edge_id, Camera.camera_id.in_(list(by_id)))
    ).all()
    for camera, settings in pairs:
        reported = by_id[camera.camera_id]
        if settings.applied_zone_version != reported.zone_version:
            settings.applied_at = now
        settings.applied_zone_version = reported.zone_version
    return len(pairs)
