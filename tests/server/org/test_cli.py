"""``civicwatch units validate|load`` and ``civicwatch users add --unit``."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from server import users_cli
from server.cli import server_database
from server.org import cli as units_cli
from server.org.tables import Camera
from server.tables import User

UNITS = Path(__file__).resolve().parents[3] / "configs" / "units.yaml"


def _cli() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers()
    units_cli.add_parser(commands)
    users_cli.add_parser(commands)
    return parser


def run(*argv: str) -> int:
    args = _cli().parse_args(list(argv))
    result: int = args.func(args)
    return result


def test_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("units", "validate", str(UNITS)) == 0
    assert "9 units, 3 cameras, ok" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("units:\n  - {id: d, name: 区, name_en: D, level: district}\n")
    assert run("units", "validate", str(bad)) == 1
    assert f"{bad}:2: a district unit must be under a city" in capsys.readouterr().err


def test_load_then_accounts_in_units(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "server.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database_url": f"sqlite:///{tmp_path / 'cases.db'}",
                "evidence_dir": str(tmp_path / "ev"),
                "mqtt_enabled": False,
            }
        )
    )
    monkeypatch.setenv(users_cli.PASSWORD_ENV, "quiet-harbor-41")
    add = ("users", "add", "--username", "wang", "--role", "team", "--config", str(config))
    assert run(*add, "--unit", "sh-jingan-jingansi-team1") == 2  # no units loaded yet
    assert "does not exist" in capsys.readouterr().err
    assert run("units", "load", str(UNITS), "--config", str(config)) == 0
    assert "units: 9 added" in capsys.readouterr().out
    assert run("units", "load", str(UNITS), "--config", str(config)) == 0
    assert "units: 0 added, 0 updated; cameras: 0 added" in capsys.readouterr().out
    assert run(*add, "--unit", "sh-jingan-jingansi") == 2
    assert "team-level unit" in capsys.readouterr().err
    assert run(*add, "--unit", "sh-jingan-jingansi-team1") == 0
    assert "in unit sh-jingan-jingansi-team1" in capsys.readouterr().out
    assert run("users", "list", "--config", str(config)) == 0
    assert "wang\tteam\tsh-jingan-jingansi-team1\t" in capsys.readouterr().out
    with server_database(config) as factory, factory() as session:
        assert session.get(User, "wang").unit_id == "sh-jingan-jingansi-team1"  # type: ignore[union-attr]
        assert len(session.scalars(select(Camera)).all()) == 3
    missing = tmp_path / "missing.yaml"
    assert run("units", "load", str(missing), "--config", str(config)) == 1
    assert "cannot read" in capsys.readouterr().err
