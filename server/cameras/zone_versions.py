"""Zone versions of a camera: validate, save on top of a base version, diff, roll back.

A save names the version it started from; when the camera has a newer one, the save is a
conflict (:class:`ZoneConflictError`), never a silent overwrite. Two saves racing on the same
base meet the ``(camera_pk, version)`` unique key: the second is a conflict too. Validation is
:func:`zones.config.check_zone_text`, the checks of ``civicwatch zones validate``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.cameras.edge_config import bump_edge_config
from server.cameras.tables import CameraSnapshot, ZoneVersion
from server.cameras.zone_text import ZoneDiff, diff_zone_texts, zone_yaml
from server.org.tables import Camera
from zones.config import ZoneProblem, check_zone_text

logger = logging.getLogger(__name__)


class ZoneConflictError(Exception):
    """The camera has a newer zone version than the one the edit started from."""

    def __init__(self, *, base_version: int | None, current: int | None) -> None:
        self.base_version = base_version
        self.current = current
        super().__init__(
            f"the zones were changed meanwhile: the edit started from version "
            f"{base_version if base_version is not None else 'none'}, the newest is "
            f"{current}; reload, reapply your change and save again"
        )


class ZoneInvalidError(Exception):
    """The zone file breaks the rules; ``problems`` says where and what."""

    def __init__(self, problems: tuple[ZoneProblem, ...]) -> None:
        self.problems = problems
        super().__init__("; ".join(p.message for p in problems))


class ZoneVersionMissingError(LookupError):
    """No such version of the camera's zones."""


@dataclass(frozen=True, slots=True)
class CheckedZones:
    """A zone file checked for one camera.

    Attributes:
        text: Its YAML text (as it would be stored).
        problems: Everything wrong with it; empty when it may be saved.
    """

    text: str
    problems: tuple[ZoneProblem, ...]


def zone_source(camera: Camera) -> Path:
    """The file name zone problems of ``camera`` are reported under."""
    return Path(f"{camera.camera_id}.yaml")


def check_zones(
    camera: Camera, *, document: dict[str, Any] | None = None, text: str | None = None
) -> CheckedZones:
    """Check a zone file for ``camera``, given as the editor's document or as YAML text.

    A document without ``camera_id`` gets the camera's; a file naming another camera is a
    problem.
    """
    if document is not None:
        text = zone_yaml({"camera_id": camera.camera_id, **document})
    if text is None:
        raise ValueError("give a document or a text")
    source = zone_source(camera)
    checked = check_zone_text(text, source=source)
    problems = checked.problems
    if checked.zones is not None and checked.zones.camera_id != camera.camera_id:
        problems = (
            ZoneProblem(
                message=f"{source}:1: camera_id '{checked.zones.camera_id}' is not this "
                f"camera's ('{camera.camera_id}')",
                line=1,
            ),
        )
    return CheckedZones(text=text, problems=problems)


def empty_zones(camera: Camera) -> str:
    """The zone file of a new camera: no zones yet."""
    return zone_yaml({"camera_id": camera.camera_id, "zones": []})


def latest_version(session: Session, *, camera_pk: int) -> ZoneVersion | None:
    return session.scalars(
        select(ZoneVersion)
        .where(ZoneVersion.camera_pk == camera_pk)
        .order_by(ZoneVersion.version.desc())
        .limit(1)
    ).first()


def get_version(session: Session, *, camera_pk: int, version: int) -> ZoneVersion:
    """One version of the camera's zones.

    Raises:
        ZoneVersionMissingError: No such version.
    """
    row = session.scalars(
        select(ZoneVersion).where(
            ZoneVersion.camera_pk == camera_pk, ZoneVersion.version == version
        )
    ).first()
    if row is None:
        raise ZoneVersionMissingError(f"camera {camera_pk} has no zone version {version}")
    return row


def list_versions(session: Session, *, camera_pk: int) -> list[ZoneVersion]:
    """Every version, newest first."""
    return list(
        session.scalars(
            select(ZoneVersion)
            .where(ZoneVersion.camera_pk == camera_pk)
            .order_by(ZoneVersion.version.desc())
        )
    )


def _insert(
    session: Session,
    *,
    camera: Camera,
    text: str,
    base_version: int | None,
    author: str,
    comment: str,
    reference_sha256: str | None,
    now: datetime,
) -> ZoneVersion:
    current = latest_version(session, camera_pk=camera.id)
    current_number = current.version if current is not None else None
    if current_number != base_version:
        raise ZoneConflictError(base_version=base_version, current=current_number)
    row = ZoneVersion(
        camera_pk=camera.id,
        version=(current_number or 0) + 1,
        zones_yaml=text,
        author=author,
        created_at=now,
        parent_version=current_number,
        comment=comment,
        reference_sha256=reference_sha256,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise ZoneConflictError(base_version=base_version, current=row.version) from None
    bump_edge_config(session, edge_id=camera.edge_id, now=now)
    logger.info(
        "zones of camera %s/%s: version %d by %s (on %s)",
        camera.edge_id,
        camera.camera_id,
        row.version,
        author,
        base_version,
    )
    return row


def save_version(
    session: Session,
    *,
    camera: Camera,
    checked: CheckedZones,
    base_version: int | None,
    author: str,
    comment: str,
    reference_sha256: str | None,
    now: datetime,
) -> ZoneVersion:
    """Save a checked zone file as the camera's next version and bump its edge's config.

    Raises:
        ZoneInvalidError: The file has problems.
        ZoneConflictError: ``base_version`` is not the newest version.
        ValueError: ``reference_sha256`` is not a snapshot of this camera.
    """
    if checked.problems:
        raise ZoneInvalidError(checked.problems)
    if reference_sha256 is not None:
        known = session.scalars(
            select(CameraSnapshot.id).where(
                CameraSnapshot.camera_pk == camera.id, CameraSnapshot.sha256 == reference_sha256
            )
        ).first()
        if known is None:
            raise ValueError(f"reference_sha256 {reference_sha256} is no snapshot of this camera")
    return _insert(
        session,
        camera=camera,
        text=checked.text,
        base_version=base_version,
        author=author,
        comment=comment,
        reference_sha256=reference_sha256,
        now=now,
    )


def rollback(
    session: Session,
    *,
    camera: Camera,
    to_version: int,
    base_version: int,
    author: str,
    comment: str,
    now: datetime,
) -> ZoneVersion:
    """A new version equal to ``to_version`` (text and reference snapshot).

    Raises:
        ZoneVersionMissingError: No such version.
        ZoneConflictError: ``base_version`` is not the newest version.
    """
    old = get_version(session, camera_pk=camera.id, version=to_version)
    return _insert(
        session,
        camera=camera,
        text=old.zones_yaml,
        base_version=base_version,
        author=author,
        comment=comment or f"rollback to version {to_version}",
        reference_sha256=old.reference_sha256,
        now=now,
    )


@dataclass(frozen=True, slots=True)
class VersionDiff:
    """A version compared with an earlier one.

    Attributes:
        against: The version compared against (``None``: none, the first version).
        diff: What changed.
    """

    against: int | None
    diff: ZoneDiff


def diff_versions(
    session: Session, *, camera_pk: int, version: int, against: int | None
) -> VersionDiff:
    """The diff of ``version`` to ``against`` (default: its parent; none for the first).

    Raises:
        ZoneVersionMissingError: Either version does not exist.
    """
    new = get_version(session, camera_pk=camera_pk, version=version)
    base = against if against is not None else new.parent_version
    old_text = (
        "" if base is None else get_version(session, camera_pk=camera_pk, version=base).zones_yaml
    )
    diff = diff_zone_texts(
        old_text,
        new.zones_yaml,
        old_name=f"v{base}" if base is not None else "(none)",
        new_name=f"v{version}",
    )
    return VersionDiff(against=base, diff=diff)
