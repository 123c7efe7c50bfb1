"""The camera registry, zone versions, snapshots, health and alarms (issue 20, operators).

Reads need a reading role; changes (cameras, zones, snapshot requests) an operator or admin.
Every camera is scoped by its 街镇 unit: a camera outside the principal's subtree answers
404. A change an edge must run is committed first, then its edge's config is published
(:class:`server.control_publisher.ControlPublisher`, when MQTT is on).
"""

from __future__ import annotations

import logging
import secrets
from typing import Annotated, cast

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request, status
from fastapi.responses import Response
from sqlalchemy import select

from contracts.control import SnapshotRequest
from server.api.deps import ReaderDep, SessionDep, StateDep, require
from server.auth import Principal
from server.cameras import registry, snapshots, zone_versions
from server.cameras.health_store import health_histories, health_history
from server.cameras.registry import CameraRegistryError, RegisteredCamera
from server.cameras.schemas import (
    AlarmList,
    CameraCreate,
    CameraList,
    CameraOut,
    CameraPatch,
    HealthHistories,
    HealthHistory,
    ProblemOut,
    SnapshotOut,
    ValidationOut,
    ZoneChangeOut,
    ZoneDiffOut,
    ZoneInput,
    ZoneRollback,
    ZoneSave,
    ZoneVersionList,
    ZoneVersionMeta,
    ZoneVersionOut,
)
from server.cameras.tables import CameraAlarm, ZoneVersion
from server.cameras.views import alarm_out, camera_views, health_out
from server.cameras.zone_text import zone_document
from server.cameras.zone_versions import (
    CheckedZones,
    ZoneConflictError,
    ZoneInvalidError,
    ZoneVersionMissingError,
)
from server.control_publisher import ControlPublisher
from server.core.db import utcnow
from server.evidence_store import EvidenceBackendError, EvidenceCorruptError, EvidenceMissingError
from server.org.scope import scope_for
from server.schemas import API_PREFIX
from server.tables import UserRole
from zones.config import ZoneProblem

logger = logging.getLogger(__name__)

router = APIRouter(
    prefix="/cameras",
    tags=["cameras"],
    responses={404: {"description": "No such camera or unit, or not in your units."}},
)

OperatorDep = Annotated[Principal, Depends(require(UserRole.OPERATOR))]
"""Operators and admins: change cameras and zones."""

CameraPk = Annotated[int, Path(ge=1, le=2**31, description="The camera's registry id.")]
VersionNo = Annotated[int, Path(ge=1, le=2**31, description="A zone version.")]


def get_publisher(request: Request) -> ControlPublisher | None:
    """The server's control publisher (``None`` when MQTT is off)."""
    return cast(ControlPublisher | None, getattr(request.app.state, "control_publisher", None))


PublisherDep = Annotated[ControlPublisher | None, Depends(get_publisher)]


def _units(session: SessionDep, principal: Principal) -> frozenset[str] | None:
    return scope_for(session, unit_id=principal.unit_id).units


def _camera(session: SessionDep, principal: Principal, camera_pk: int) -> RegisteredCamera:
    """The camera, or 404 when it does not exist or lies outside the principal's units."""
    found = registry.get_camera(session, camera_pk=camera_pk)
    units = _units(session, principal)
    if found is None or (units is not None and found.camera.unit_id not in units):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"camera {camera_pk} not found")
    return found


def _configured(found: RegisteredCamera) -> None:
    if found.settings is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail="this camera has no stream URL yet: set one (PATCH) before editing its zones",
        )


def _push(publisher: ControlPublisher | None, edge_id: str) -> None:
    if publisher is not None:
        publisher.push_config(edge_id)


def _view(session: SessionDep, found: RegisteredCamera) -> CameraOut:
    return camera_views(session, [found])[0]


@router.get("", response_model=CameraList, summary="Cameras in your units")
def list_cameras(session: SessionDep, principal: ReaderDep) -> CameraList:
    """Every camera of the principal's units with its state, newest health and open alarms."""
    found = registry.list_cameras(session, units=_units(session, principal))
    return CameraList(items=camera_views(session, found))


@router.get("/health", response_model=HealthHistories, summary="Recent health of all cameras")
def list_health(
    session: SessionDep,
    principal: ReaderDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 60,
) -> HealthHistories:
    """The newest samples of every camera in the principal's units (one query)."""
    found = registry.list_cameras(session, units=_units(session, principal))
    histories = health_histories(session, [r.camera.id for r in found], limit=limit)
    return HealthHistories(
        items=[
            HealthHistory(camera=pk, items=[health_out(r) for r in rows])
            for pk, rows in histories.items()
        ]
    )


@router.post(
    "",
    response_model=CameraOut,
    status_code=status.HTTP_201_CREATED,
    summary="Add a camera",
    responses={409: {"description": "The edge has that camera id."}},
)
def create_camera(
    session: SessionDep, principal: OperatorDep, publisher: PublisherDep, body: CameraCreate
) -> CameraOut:
    """Register a camera (its zones start empty) and send its edge the new config."""
    units = _units(session, principal)
    if units is not None and body.unit_id not in units:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"unit {body.unit_id} not found")
    try:
        found = registry.create_camera(session, body, author=principal.username, now=utcnow())
    except registry.CameraExistsError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    except CameraRegistryError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None
    session.commit()
    _push(publisher, found.camera.edge_id)
    return _view(session, found)


@router.get("/{camera_pk}", response_model=CameraOut, summary="One camera")
def read_camera(session: SessionDep, principal: ReaderDep, camera_pk: CameraPk) -> CameraOut:
    return _view(session, _camera(session, principal, camera_pk))


@router.patch("/{camera_pk}", response_model=CameraOut, summary="Change or disable a camera")
def update_camera(
    session: SessionDep,
    principal: OperatorDep,
    publisher: PublisherDep,
    camera_pk: CameraPk,
    body: CameraPatch,
) -> CameraOut:
    """Change a camera; ``enabled: false`` disables it on its edge (no restart)."""
    found = _camera(session, principal, camera_pk)
    units = _units(session, principal)
    if body.unit_id is not None and units is not None and body.unit_id not in units:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"unit {body.unit_id} not found")
    try:
        found = registry.update_camera(
            session, found, body, author=principal.username, now=utcnow()
        )
    except CameraRegistryError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None
    session.commit()
    _push(publisher, found.camera.edge_id)
    return _view(session, found)


@router.get("/{camera_pk}/health", response_model=HealthHistory, summary="Recent health")
def read_health(
    session: SessionDep,
    principal: ReaderDep,
    camera_pk: CameraPk,
    limit: Annotated[int, Query(ge=1, le=2000)] = 120,
) -> HealthHistory:
    """The camera's newest health samples, oldest first (for a sparkline)."""
    found = _camera(session, principal, camera_pk)
    rows = health_history(session, camera_pk=found.camera.id, limit=limit)
    return HealthHistory(camera=found.camera.id, items=[health_out(r) for r in rows])


@router.get("/{camera_pk}/alarms", response_model=AlarmList, summary="Alarms, newest first")
def read_alarms(
    session: SessionDep,
    principal: ReaderDep,
    camera_pk: CameraPk,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> AlarmList:
    found = _camera(session, principal, camera_pk)
    rows = session.scalars(
        select(CameraAlarm)
        .where(CameraAlarm.camera_pk == found.camera.id)
        .order_by(CameraAlarm.id.desc())
        .limit(limit)
    )
    return AlarmList(items=[alarm_out(a) for a in rows])


# ---------------------------------------------------------------------------------------------
# Zones


def _meta(row: ZoneVersion) -> ZoneVersionMeta:
    return ZoneVersionMeta(
        version=row.version,
        author=row.author,
        created_at=row.created_at,
        parent_version=row.parent_version,
        comment=row.comment,
        reference_sha256=row.reference_sha256,
    )


def _version_out(session: SessionDep, found: RegisteredCamera, row: ZoneVersion) -> ZoneVersionOut:
    return ZoneVersionOut(
        **_meta(row).model_dump(),
        camera=found.camera.id,
        yaml=row.zones_yaml,
        document=zone_document(row.zones_yaml),
        apply=_view(session, found).apply,
    )


def _problems(problems: tuple[ZoneProblem, ...]) -> list[ProblemOut]:
    return [
        ProblemOut(
            message=p.message,
            line=p.line,
            zone_index=p.zone_index,
            zone_id=p.zone_id,
            shape=p.shape,
            shape_index=p.shape_index,
            point=p.point,
            field=p.field,
        )
        for p in problems
    ]


def _check(found: RegisteredCamera, body: ZoneInput) -> CheckedZones:
    return zone_versions.check_zones(found.camera, document=body.document, text=body.yaml)


@router.get("/{camera_pk}/zones", response_model=ZoneVersionList, summary="Zone versions")
def list_zone_versions(
    session: SessionDep, principal: ReaderDep, camera_pk: CameraPk
) -> ZoneVersionList:
    found = _camera(session, principal, camera_pk)
    rows = zone_versions.list_versions(session, camera_pk=found.camera.id)
    return ZoneVersionList(camera=found.camera.id, items=[_meta(r) for r in rows])


@router.get("/{camera_pk}/zones/latest", response_model=ZoneVersionOut, summary="The newest zones")
def read_latest_zones(
    session: SessionDep, principal: ReaderDep, camera_pk: CameraPk
) -> ZoneVersionOut:
    """The newest zone version, its document for the editor, and whether the edge runs it."""
    found = _camera(session, principal, camera_pk)
    _configured(found)
    row = zone_versions.latest_version(session, camera_pk=found.camera.id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="this camera has no zones yet")
    return _version_out(session, found, row)


@router.get(
    "/{camera_pk}/zones/{version}", response_model=ZoneVersionOut, summary="One zone version"
)
def read_zone_version(
    session: SessionDep, principal: ReaderDep, camera_pk: CameraPk, version: VersionNo
) -> ZoneVersionOut:
    found = _camera(session, principal, camera_pk)
    try:
        row = zone_versions.get_version(session, camera_pk=found.camera.id, version=version)
    except ZoneVersionMissingError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None
    return _version_out(session, found, row)


@router.post(
    "/{camera_pk}/zones/validate",
    response_model=ValidationOut,
    summary="Check zones without saving",
)
def validate_zones(
    session: SessionDep, principal: ReaderDep, camera_pk: CameraPk, body: ZoneInput
) -> ValidationOut:
    """The checks of ``civicwatch zones validate``, each problem with its zone and shape."""
    checked = _check(_camera(session, principal, camera_pk), body)
    return ValidationOut(valid=not checked.problems, problems=_problems(checked.problems))


def _base_from_if_match(if_match: str | None, body_base: int | None) -> int | None:
    """``If-Match: "v3"`` (or ``3``) must agree with ``base_version`` when both are given."""
    if if_match is None:
        return body_base
    text = if_match.strip().strip('"').removeprefix("W/").strip('"').lstrip("v")
    if not text.isdigit():
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail='If-Match must be a version: "v3"')
    if body_base is not None and int(text) != body_base:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, detail="If-Match and base_version name different versions"
        )
    return int(text)


@router.post(
    "/{camera_pk}/zones",
    response_model=ZoneVersionOut,
    status_code=status.HTTP_201_CREATED,
    summary="Save zones as a new version",
    responses={
        409: {"description": "The zones changed since base_version (reload and reapply)."},
        422: {"description": "The zones break the rules; detail.problems says where."},
    },
)
def save_zones(
    session: SessionDep,
    principal: OperatorDep,
    publisher: PublisherDep,
    camera_pk: CameraPk,
    body: ZoneSave,
    if_match: Annotated[str | None, Header()] = None,
) -> ZoneVersionOut:
    """Save a new version on top of ``base_version`` and send the edge its new config."""
    found = _camera(session, principal, camera_pk)
    _configured(found)
    base = _base_from_if_match(if_match, body.base_version)
    try:
        row = zone_versions.save_version(
            session,
            camera=found.camera,
            checked=_check(found, body),
            base_version=base,
            author=principal.username,
            comment=body.comment,
            reference_sha256=body.reference_sha256,
            now=utcnow(),
        )
    except ZoneInvalidError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail={
                "message": "the zones break the rules",
                "problems": [p.model_dump() for p in _problems(exc.problems)],
            },
        ) from None
    except ZoneConflictError as exc:
        session.rollback()
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail={"message": str(exc), "current_version": exc.current},
        ) from None
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None
    session.commit()
    _push(publisher, found.camera.edge_id)
    return _version_out(session, found, row)


@router.post(
    "/{camera_pk}/zones/rollback",
    response_model=ZoneVersionOut,
    status_code=status.HTTP_201_CREATED,
    summary="Roll back: a new version equal to an older one",
    responses={409: {"description": "The zones changed since base_version."}},
)
def rollback_zones(
    session: SessionDep,
    principal: OperatorDep,
    publisher: PublisherDep,
    camera_pk: CameraPk,
    body: ZoneRollback,
) -> ZoneVersionOut:
    found = _camera(session, principal, camera_pk)
    _configured(found)
    try:
        row = zone_versions.rollback(
            session,
            camera=found.camera,
            to_version=body.to_version,
            base_version=body.base_version,
            author=principal.username,
            comment=body.comment,
            now=utcnow(),
        )
    except ZoneVersionMissingError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None
    except ZoneConflictError as exc:
        session.rollback()
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail={"message": str(exc), "current_version": exc.current},
        ) from None
    session.commit()
    _push(publisher, found.camera.edge_id)
    return _version_out(session, found, row)


@router.get(
    "/{camera_pk}/zones/{version}/diff",
    response_model=ZoneDiffOut,
    summary="What a version changed",
)
def diff_zones(
    session: SessionDep,
    principal: ReaderDep,
    camera_pk: CameraPk,
    version: VersionNo,
    against: Annotated[int | None, Query(ge=1, description="Default: its parent.")] = None,
) -> ZoneDiffOut:
    """Zones added, removed and changed (with the fields), and a unified text diff."""
    found = _camera(session, principal, camera_pk)
    try:
        result = zone_versions.diff_versions(
            session, camera_pk=found.camera.id, version=version, against=against
        )
    except ZoneVersionMissingError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None
    diff = result.diff
    return ZoneDiffOut(
        camera=found.camera.id,
        version=version,
        against=result.against,
        added=list(diff.added),
        removed=list(diff.removed),
        changed=[ZoneChangeOut(zone_id=c.zone_id, fields=list(c.fields)) for c in diff.changed],
        unified=diff.unified,
    )


# ---------------------------------------------------------------------------------------------
# Snapshots


def _snapshot_out(session: SessionDep, state: StateDep, found: RegisteredCamera) -> SnapshotOut:
    camera_pk = found.camera.id
    snap = snapshots.latest_snapshot(session, camera_pk=camera_pk)
    requested = found.settings.snapshot_requested_at if found.settings is not None else None
    return SnapshotOut(
        camera=camera_pk,
        sha256=snap.sha256 if snap is not None else None,
        url=None if snap is None else f"{API_PREFIX}/cameras/{camera_pk}/snapshots/{snap.sha256}",
        width=snap.width if snap is not None else None,
        height=snap.height if snap is not None else None,
        captured_at=snap.captured_at if snap is not None else None,
        received_at=snap.received_at if snap is not None else None,
        requested_at=requested,
        status=snapshots.snapshot_status(
            snap, requested, now=utcnow(), timeout_s=state.settings.cameras.snapshot_timeout_s
        ),
    )


@router.get("/{camera_pk}/snapshot", response_model=SnapshotOut, summary="The newest snapshot")
def read_snapshot(
    session: SessionDep, state: StateDep, principal: ReaderDep, camera_pk: CameraPk
) -> SnapshotOut:
    """The newest snapshot and whether one asked for is still awaited or did not come."""
    return _snapshot_out(session, state, _camera(session, principal, camera_pk))


@router.post(
    "/{camera_pk}/snapshot",
    response_model=SnapshotOut,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Ask the edge for a snapshot",
    responses={503: {"description": "MQTT is off: no edge can be asked."}},
)
def request_snapshot(
    session: SessionDep,
    state: StateDep,
    principal: OperatorDep,
    publisher: PublisherDep,
    camera_pk: CameraPk,
) -> SnapshotOut:
    """Ask the camera's edge for its latest frame; poll GET until ``ready`` or ``timed_out``."""
    found = _camera(session, principal, camera_pk)
    _configured(found)
    if publisher is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail="MQTT is off: no edge can be asked"
        )
    assert found.settings is not None
    now = utcnow()
    snapshots.mark_requested(found.settings, now=now)
    session.commit()
    publisher.request_snapshot(
        SnapshotRequest(
            request_id=f"snap-{secrets.token_hex(8)}",
            edge_id=found.camera.edge_id,
            camera_id=found.camera.camera_id,
            requested_at=now,
        )
    )
    return _snapshot_out(session, state, found)


@router.get(
    "/{camera_pk}/snapshots/{sha256}",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, 404: {"description": "No such snapshot."}},
    summary="Snapshot bytes",
)
def read_snapshot_bytes(
    session: SessionDep,
    state: StateDep,
    principal: ReaderDep,
    camera_pk: CameraPk,
    sha256: Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")],
) -> Response:
    """One of the camera's snapshots as JPEG."""
    found = _camera(session, principal, camera_pk)
    if snapshots.snapshot_of(session, camera_pk=found.camera.id, sha256=sha256) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such snapshot of this camera")
    try:
        data = state.store.read(sha256)
    except (EvidenceMissingError, EvidenceCorruptError) as exc:
        logger.error("snapshot %s not served: %s", sha256, exc)
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="snapshot bytes missing") from None
    except EvidenceBackendError as exc:
        logger.error("snapshot %s not served: %s", sha256, exc)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail="evidence store unavailable"
        ) from None
    return Response(
        data,
        media_type="image/jpeg",
        headers={"Cache-Control": "private, max-age=3600", "ETag": f'"{sha256}"'},
    )
