"""Units and cameras in the database: the tree index, loading the units file, changes.

Keyword-only functions; the caller owns the transaction (they add and flush, never commit).
The tree is small (a city has a few hundred units), so it is read whole into a
:class:`UnitIndex`, which answers subtree and ancestor questions without more queries.

Example:
    >>> index = unit_index(session)  # doctest: +SKIP
    >>> index.subtree("sh-huangpu")
    frozenset({'sh-huangpu', 'sh-huangpu-nanjingdong', ...})
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.org.config import CameraSpec, UnitSpec, UnitsTree, load_units_file
from server.org.tables import PARENT_LEVEL, Camera, Unit, UnitLevel

logger = logging.getLogger(__name__)


class UnitError(ValueError):
    """A unit cannot be created or changed; the message says why."""


@dataclass(frozen=True, slots=True)
class UnitNode:
    """A unit as the index knows it (no database session needed)."""

    id: str
    name: str
    name_en: str
    level: UnitLevel
    parent_id: str | None
    sort_order: int


@dataclass(frozen=True, slots=True)
class UnitIndex:
    """The whole tree in memory: subtrees and ancestors by id."""

    nodes: dict[str, UnitNode]
    children: dict[str | None, list[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, nodes: Iterable[UnitNode]) -> UnitIndex:
        by_id = {node.id: node for node in nodes}
        children: dict[str | None, list[str]] = {}
        for node in sorted(by_id.values(), key=lambda n: (n.sort_order, n.id)):
            children.setdefault(node.parent_id, []).append(node.id)
        return cls(nodes=by_id, children=children)

    def subtree(self, unit_id: str) -> frozenset[str]:
        """``unit_id`` and every unit under it (empty when the unit is unknown)."""
        if unit_id not in self.nodes:
            return frozenset()
        found: set[str] = set()
        stack = [unit_id]
        while stack:
            current = stack.pop()
            if current in found:  # a cycle cannot be stored, but never loop on one
                continue
            found.add(current)
            stack.extend(self.children.get(current, ()))
        return frozenset(found)

    def ancestors(self, unit_id: str) -> list[str]:
        """The units above ``unit_id``, nearest first."""
        chain: list[str] = []
        node = self.nodes.get(unit_id)
        while node is not None and node.parent_id is not None and node.parent_id not in chain:
            chain.append(node.parent_id)
            node = self.nodes.get(node.parent_id)
        return chain

    def within(self, unit_id: str | None, scope: str | None) -> bool:
        """Whether ``unit_id`` lies in ``scope``'s subtree (``scope`` ``None``: everything)."""
        if scope is None:
            return True
        return unit_id is not None and (unit_id == scope or scope in self.ancestors(unit_id))


def unit_index(session: Session) -> UnitIndex:
    """Every unit, read into a :class:`UnitIndex`."""
    rows = session.execute(
        select(Unit.id, Unit.name, Unit.name_en, Unit.level, Unit.parent_id, Unit.sort_order)
    ).all()
    return UnitIndex.build(
        UnitNode(
            id=row.id,
            name=row.name,
            name_en=row.name_en,
            level=row.level,
            parent_id=row.parent_id,
            sort_order=row.sort_order,
        )
        for row in rows
    )


@dataclass(frozen=True, slots=True)
class LoadReport:
    """What :func:`apply_units` changed."""

    units_added: int
    units_updated: int
    cameras_added: int
    cameras_updated: int

    def summary(self) -> str:
        return (
            f"units: {self.units_added} added, {self.units_updated} updated; "
            f"cameras: {self.cameras_added} added, {self.cameras_updated} updated"
        )


def _apply_unit(session: Session, spec: UnitSpec) -> bool | None:
    """Insert (``True``) or update (``False``) one unit; ``None`` when nothing changed."""
    unit = session.get(Unit, spec.id)
    values = {
        "name": spec.name,
        "name_en": spec.name_en,
        "level": spec.level,
        "parent_id": spec.parent_id,
        "outline": spec.outline,
        "sort_order": spec.sort_order,
    }
    if unit is None:
        session.add(Unit(id=spec.id, **values))
        return True
    if all(getattr(unit, key) == value for key, value in values.items()):
        return None
    for key, value in values.items():
        setattr(unit, key, value)
    return False


def _apply_camera(session: Session, spec: CameraSpec, now: datetime) -> bool | None:
    camera = session.scalar(
        select(Camera).where(Camera.edge_id == spec.edge_id, Camera.camera_id == spec.camera_id)
    )
    values = {
        "name": spec.name,
        "unit_id": spec.unit_id,
        "lat": spec.lat,
        "lon": spec.lon,
        "enabled": spec.enabled,
    }
    if camera is None:
        session.add(
            Camera(edge_id=spec.edge_id, camera_id=spec.camera_id, created_at=now, **values)
        )
        return True
    if all(getattr(camera, key) == value for key, value in values.items()):
        return None
    for key, value in values.items():
        setattr(camera, key, value)
    return False


def apply_units(session: Session, *, tree: UnitsTree, now: datetime) -> LoadReport:
    """Upsert the units (parents first) and cameras of a checked units file.

    Units and cameras absent from the file are kept (accounts and cases refer to them).

    Raises:
        UnitError: A unit of the file would change its level or move under a unit of the
            wrong level compared with what the database holds.
    """
    counts = {True: 0, False: 0}
    for spec in tree.units:
        existing = session.get(Unit, spec.id)
        if existing is not None and existing.level is not spec.level:
            raise UnitError(
                f"unit {spec.id!r} is a {existing.level.value} in the database; the file makes "
                f"it a {spec.level.value} (a unit's level cannot change)"
            )
        outcome = _apply_unit(session, spec)
        if outcome is not None:
            counts[outcome] += 1
        session.flush()
    camera_counts = {True: 0, False: 0}
    for camera in tree.cameras:
        outcome = _apply_camera(session, camera, now)
        if outcome is not None:
            camera_counts[outcome] += 1
    session.flush()
    report = LoadReport(
        units_added=counts[True],
        units_updated=counts[False],
        cameras_added=camera_counts[True],
        cameras_updated=camera_counts[False],
    )
    logger.info("units file applied: %s", report.summary())
    return report


def check_placement(index: UnitIndex, *, level: UnitLevel, parent_id: str | None) -> None:
    """Refuse a unit whose parent does not exist or is not of the level above.

    Raises:
        UnitError: The message says why.
    """
    wanted = PARENT_LEVEL[level]
    if parent_id is None:
        if wanted is not None:
            raise UnitError(f"a {level.value} unit needs a parent ({wanted.value})")
        return
    parent = index.nodes.get(parent_id)
    if parent is None:
        raise UnitError(f"parent unit {parent_id!r} does not exist")
    if wanted is None or parent.level is not wanted:
        raise UnitError(
            f"a {level.value} unit must be under a {wanted.value if wanted else 'nothing'}, "
            f"not under {parent_id!r} ({parent.level.value})"
        )


def create_unit(session: Session, *, spec: UnitSpec) -> Unit:
    """Add one unit under an existing parent of the level above (the caller commits).

    Raises:
        UnitError: The id is taken or the placement is wrong.
    """
    if session.get(Unit, spec.id) is not None:
        raise UnitError(f"unit {spec.id!r} exists")
    check_placement(unit_index(session), level=spec.level, parent_id=spec.parent_id)
    unit = Unit(
        id=spec.id,
        name=spec.name,
        name_en=spec.name_en,
        level=spec.level,
        parent_id=spec.parent_id,
        outline=spec.outline,
        sort_order=spec.sort_order,
    )
    session.add(unit)
    session.flush()
    return unit


def camera_units(session: Session, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The unit of each registered camera among ``(edge_id, camera_id)`` keys."""
    wanted = set(keys)
    if not wanted:
        return {}
    edges = {edge for edge, _ in wanted}
    rows = session.execute(
        select(Camera.edge_id, Camera.camera_id, Camera.unit_id).where(Camera.edge_id.in_(edges))
    ).all()
    return {
        (row.edge_id, row.camera_id): row.unit_id
        for row in rows
        if (row.edge_id, row.camera_id) in wanted
    }


def load_units(factory: sessionmaker[Session], path: Path, *, now: datetime) -> LoadReport:
    """Read a units file and upsert it in one transaction (the server does this at start).

    Raises:
        ConfigError: The file is wrong (every problem at its line); nothing is changed.
        UnitError: The file contradicts the database; nothing is changed.
    """
    tree = load_units_file(path)
    with factory() as session, session.begin():
        return apply_units(session, tree=tree, now=now)
