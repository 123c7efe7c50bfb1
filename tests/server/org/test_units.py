"""Units in the database: the tree index, loading the units file twice, accounts in units."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from server import auth
from server.org.config import load_units_file
from server.org.scope import Scope, scope_for, visible_condition
from server.org.tables import Camera, Unit, UnitLevel
from server.org.units import (
    UnitError,
    UnitIndex,
    UnitNode,
    apply_units,
    check_placement,
    load_units,
    unit_index,
)
from server.tables import Case, User, UserRole
from tests.server.conftest import NOW

UNITS = Path(__file__).resolve().parents[3] / "configs" / "units.yaml"


def _node(unit_id: str, level: UnitLevel, parent: str | None) -> UnitNode:
    return UnitNode(
        id=unit_id, name=unit_id, name_en=unit_id, level=level, parent_id=parent, sort_order=0
    )


INDEX = UnitIndex.build(
    [
        _node("c", UnitLevel.CITY, None),
        _node("d1", UnitLevel.DISTRICT, "c"),
        _node("d2", UnitLevel.DISTRICT, "c"),
        _node("s1", UnitLevel.STREET, "d1"),
        _node("t1", UnitLevel.TEAM, "s1"),
    ]
)


@pytest.mark.parametrize(
    ("unit", "subtree"),
    [
        ("c", {"c", "d1", "d2", "s1", "t1"}),
        ("d1", {"d1", "s1", "t1"}),
        ("d2", {"d2"}),
        ("t1", {"t1"}),
        ("nope", set()),
    ],
)
def test_subtrees(unit: str, subtree: set[str]) -> None:
    assert INDEX.subtree(unit) == subtree


def test_ancestors_and_within() -> None:
    assert INDEX.ancestors("t1") == ["s1", "d1", "c"]
    assert INDEX.ancestors("c") == []
    assert INDEX.within("t1", "d1") and INDEX.within("t1", None)
    assert not INDEX.within("t1", "d2") and not INDEX.within(None, "c")


def test_scope_covers_and_sees_nothing_for_an_unknown_unit() -> None:
    scope = Scope(unit_id="gone", units=INDEX.subtree("gone"), index=INDEX)
    assert not scope.covers("c") and not scope.covers(None)


@pytest.mark.parametrize(
    ("level", "parent", "error"),
    [
        (UnitLevel.CITY, None, None),
        (UnitLevel.STREET, "d2", None),
        (UnitLevel.STREET, None, "needs a parent"),
        (UnitLevel.TEAM, "d1", "must be under a street"),
        (UnitLevel.CITY, "c", "must be under a nothing"),
        (UnitLevel.DISTRICT, "zz", "does not exist"),
    ],
)
def test_placement(level: UnitLevel, parent: str | None, error: str | None) -> None:
    if error is None:
        check_placement(INDEX, level=level, parent_id=parent)
    else:
        with pytest.raises(UnitError, match=error):
            check_placement(INDEX, level=level, parent_id=parent)


def test_loading_twice_changes_nothing_the_second_time(
    session_factory: sessionmaker[Session],
) -> None:
    first = load_units(session_factory, UNITS, now=NOW)
    assert (first.units_added, first.cameras_added) == (9, 3)
    second = load_units(session_factory, UNITS, now=NOW)
    assert (second.units_added, second.units_updated, second.cameras_added) == (0, 0, 0)
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Unit)) == 9
        camera = session.scalars(select(Camera).where(Camera.camera_id == "demo-cam")).one()
        assert camera.unit_id == "sh-huangpu-nanjingdong" and camera.enabled
        index = unit_index(session)
    assert index.subtree("sh-huangpu") == {
        "sh-huangpu",
        "sh-huangpu-nanjingdong",
        "sh-huangpu-nanjingdong-team1",
        "sh-huangpu-waitan",
        "sh-huangpu-waitan-team1",
    }


def test_a_unit_cannot_change_its_level(session_factory: sessionmaker[Session]) -> None:
    load_units(session_factory, UNITS, now=NOW)
    tree = load_units_file(UNITS)
    with session_factory() as session, session.begin():
        session.get(Unit, "sh-jingan-jingansi-team1").level = UnitLevel.STREET  # type: ignore[union-attr]
    with session_factory() as session, pytest.raises(UnitError, match="level cannot change"):
        apply_units(session, tree=tree, now=NOW)


def test_accounts_belong_to_units(session_factory: sessionmaker[Session]) -> None:
    load_units(session_factory, UNITS, now=NOW)
    with session_factory() as session, session.begin():
        auth.create_user(
            session,
            username="lee",
            password="street-team-pass-7",
            role=UserRole.TEAM,
            now=NOW,
            unit_id="sh-huangpu-waitan-team1",
        )
        with pytest.raises(auth.UserError, match="does not exist"):
            auth.create_user(
                session,
                username="x1",
                password="street-team-pass-7",
                role=UserRole.REVIEWER,
                now=NOW,
                unit_id="nowhere",
            )
        with pytest.raises(auth.UserError, match="team-level unit"):
            auth.create_user(
                session,
                username="x2",
                password="street-team-pass-7",
                role=UserRole.TEAM,
                now=NOW,
                unit_id="sh-huangpu-waitan",
            )
    with session_factory() as session:
        assert session.get(User, "lee").unit_id == "sh-huangpu-waitan-team1"  # type: ignore[union-attr]


def test_an_empty_scope_sees_no_case(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        scope = scope_for(session, unit_id="not-a-unit")
        assert scope.units == frozenset()
        assert session.scalars(select(Case).where(visible_condition(scope))).all() == []
