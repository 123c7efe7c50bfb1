"""The camera registry as operators use it: add, change, enable and disable cameras.

The registry's row is :class:`server.org.tables.Camera` (edge, camera id, name, 街镇 unit,
location, enabled); what the edge needs besides (stream URL, profile) is
:class:`server.cameras.tables.CameraSettings`. Every change an edge must run bumps the
edge's config version in the same transaction (:func:`.edge_config.bump_edge_config`); the
caller publishes it after the commit. Stream URLs are logged redacted only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from contracts.control import Profile
from server.cameras.edge_config import bump_edge_config
from server.cameras.redact import redact_url
from server.cameras.schemas import CameraCreate, CameraPatch
from server.cameras.tables import CameraSettings, ZoneVersion
from server.cameras.zone_versions import empty_zones, latest_version
from server.org.tables import Camera, Unit, UnitLevel

logger = logging.getLogger(__name__)


class CameraRegistryError(ValueError):
    """A change the registry refuses; the message says why."""


class CameraExistsError(CameraRegistryError):
    """The edge already has a camera with that id."""


@dataclass(frozen=True, slots=True)
class RegisteredCamera:
    """A camera with its settings (``None``: registered by a units file, not configured)."""

    camera: Camera
    settings: CameraSettings | None


def _check_unit(session: Session, unit_id: str) -> None:
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise CameraRegistryError(f"unit {unit_id!r} does not exist")
    if unit.level is not UnitLevel.STREET:
        raise CameraRegistryError(
            f"unit {unit_id!r} is a {unit.level.value}; a camera belongs to a street (街镇)"
        )


def list_cameras(session: Session, *, units: frozenset[str] | None) -> list[RegisteredCamera]:
    """Cameras in ``units`` (``None``: all), by edge and camera id."""
    query = select(Camera, CameraSettings).outerjoin(
        CameraSettings, CameraSettings.camera_pk == Camera.id
    )
    if units is not None:
        query = query.where(Camera.unit_id.in_(sorted(units)))
    rows = session.execute(query.order_by(Camera.edge_id, Camera.camera_id)).all()
    return [RegisteredCamera(camera, settings) for camera, settings in rows]


def get_camera(session: Session, *, camera_pk: int) -> RegisteredCamera | None:
    camera = session.get(Camera, camera_pk)
    if camera is None:
        return None
    return RegisteredCamera(camera, session.get(CameraSettings, camera_pk))


def _first_zones(session: Session, camera: Camera, *, author: str, now: datetime) -> None:
    """Give a camera that has none its first zone version: no zones yet."""
    if latest_version(session, camera_pk=camera.id) is None:
        session.add(
            ZoneVersion(
                camera_pk=camera.id,
                version=1,
                zones_yaml=empty_zones(camera),
                author=author,
                created_at=now,
                comment="camera added",
            )
        )


def create_camera(
    session: Session, data: CameraCreate, *, author: str, now: datetime
) -> RegisteredCamera:
    """Register a camera with its settings and empty zones; bumps its edge's config.

    Raises:
        CameraExistsError: The edge has that camera id already.
        CameraRegistryError: The unit does not exist or is not a street.
    """
    _check_unit(session, data.unit_id)
    taken = session.scalars(
        select(Camera.id).where(Camera.edge_id == data.edge_id, Camera.camera_id == data.camera_id)
    ).first()
    if taken is not None:
        raise CameraExistsError(f"edge {data.edge_id} already has a camera {data.camera_id!r}")
    camera = Camera(
        edge_id=data.edge_id,
        camera_id=data.camera_id,
        name=data.name,
        unit_id=data.unit_id,
        lat=data.lat,
        lon=data.lon,
        enabled=data.enabled,
        created_at=now,
    )
    session.add(camera)
    session.flush()
    settings = CameraSettings(
        camera_pk=camera.id, stream_url=data.stream_url, profile=data.profile, updated_at=now
    )
    session.add(settings)
    _first_zones(session, camera, author=author, now=now)
    bump_edge_config(session, edge_id=camera.edge_id, now=now)
    logger.info(
        "camera %s/%s added by %s (%s, %s)",
        camera.edge_id,
        camera.camera_id,
        author,
        redact_url(data.stream_url),
        data.profile.value,
    )
    return RegisteredCamera(camera, settings)


def update_camera(
    session: Session,
    registered: RegisteredCamera,
    patch: CameraPatch,
    *,
    author: str,
    now: datetime,
) -> RegisteredCamera:
    """Apply ``patch``; bumps the edge's config when the edge runs the camera.

    A camera registered without settings gets them here (a stream URL is then required).

    Raises:
        CameraRegistryError: A bad unit, or settings without a stream URL.
    """
    camera, settings = registered.camera, registered.settings
    if patch.unit_id is not None:
        _check_unit(session, patch.unit_id)
        camera.unit_id = patch.unit_id
    for name in ("name", "lat", "lon", "enabled"):
        value = getattr(patch, name)
        if value is not None:
            setattr(camera, name, value)
    if settings is None and (patch.stream_url is not None or patch.profile is not None):
        if patch.stream_url is None:
            raise CameraRegistryError("this camera has no stream URL yet; give stream_url")
        settings = CameraSettings(
            camera_pk=camera.id,
            stream_url=patch.stream_url,
            profile=patch.profile or Profile.STATIONARY,
            updated_at=now,
        )
        session.add(settings)
        _first_zones(session, camera, author=author, now=now)
    elif settings is not None:
        if patch.stream_url is not None:
            settings.stream_url = patch.stream_url
        if patch.profile is not None:
            settings.profile = patch.profile
        settings.updated_at = now
    if settings is not None:
        bump_edge_config(session, edge_id=camera.edge_id, now=now)
    changed = sorted(k for k, v in patch.model_dump(exclude_none=True).items() if k != "stream_url")
    logger.info(
        "camera %s/%s changed by %s: %s%s",
        camera.edge_id,
        camera.camera_id,
        author,
        ", ".join(changed) or "nothing",
        f", stream {redact_url(patch.stream_url)}" if patch.stream_url is not None else "",
    )
    session.flush()
    return RegisteredCamera(camera, settings)
