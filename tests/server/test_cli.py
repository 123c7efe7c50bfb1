"""``civicwatch server``: ``--check`` validates the units file; a bad one stops the start.

At start, a units file the server could not load is one line on stderr and exit status 2,
not a traceback from the application's start-up. The settings themselves (``--check``'s
dump, bad settings) are tested in test_config.py.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from civicwatch.services import free_port
from server.cli import add_parser, server_database
from server.core.db import utcnow
from server.org.tables import Unit, UnitLevel
from server.org.units import load_units

REPO = Path(__file__).resolve().parents[2]
UNITS = REPO / "configs" / "units.yaml"

TWO_PROBLEMS = """\
units:
  - id: sh
    name: 上海市
    name_en: Shanghai
    level: city
    colour: red
    children:
      - id: sh-huangpu
        name: 黄浦区
        name_en: Huangpu
        level: village
"""
"""Two problems: an unknown key (line 6) and an unknown level (line 11)."""

STREET_AS_DISTRICT = """\
units:
  - id: sh
    name: 上海市
    name_en: Shanghai
    level: city
    children:
      - id: sh-huangpu-nanjingdong
        name: 南京东路街道
        name_en: Nanjing East Road
        level: district
"""
"""A good file on its own; the demo city's database holds this unit as a street."""


def _settings(tmp_path: Path, units: Path) -> Path:
    path = tmp_path / "server.yaml"
    path.write_text(
        f"database_url: sqlite:///{tmp_path / 'cases.db'}\n"
        f"evidence_dir: {tmp_path / 'evidence'}\n"
        f"units_file: {units}\n"
        "mqtt_enabled: false\n"
        f"http_port: {free_port()}\n",
        encoding="utf-8",
    )
    return path


def _units(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "units.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _check(config: Path) -> int:
    parser = argparse.ArgumentParser(prog="civicwatch")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["server", "--config", str(config), "--check"])
    status: int = args.func(args)
    return status


def _demo_city(config: Path) -> None:
    with server_database(config) as factory:
        load_units(factory, UNITS, now=utcnow())


def test_check_reports_the_units_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _check(_settings(tmp_path, UNITS)) == 0
    out = capsys.readouterr().out
    assert f"units_file: {UNITS} (9 units, 3 cameras)" in out
    assert out.endswith("ok\n")


def test_check_without_a_units_file_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "server.yaml"
    config.write_text(f"database_url: sqlite:///{tmp_path / 'cases.db'}\n", encoding="utf-8")
    assert _check(config) == 0
    assert "units_file: none" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (TWO_PROBLEMS, [":6: units[0]: unknown key 'colour'", ":11: "]),
        ("units: [\n", [":2:"]),
        ("", ["units"]),
        (None, ["cannot read"]),
    ],
    ids=["two-problems", "broken-yaml", "empty", "missing"],
)
def test_check_lists_every_problem_of_a_bad_units_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str | None, expected: list[str]
) -> None:
    units = tmp_path / "units.yaml" if text is None else _units(tmp_path, text)
    assert _check(_settings(tmp_path, units)) == 1
    captured = capsys.readouterr()
    lines = [
        line for line in captured.err.splitlines() if line.startswith("civicwatch server --check")
    ]
    assert lines and all(f"units_file: {units}" in line for line in lines), captured.err
    assert len(lines) == len(expected), captured.err
    for line, part in zip(lines, expected, strict=True):
        assert part in line, line
    assert " cameras)" not in captured.out  # no success line for it
    assert not captured.out.endswith("ok\n")


def test_check_says_when_the_database_refuses_the_units_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _settings(tmp_path, _units(tmp_path, STREET_AS_DISTRICT))
    _demo_city(config)
    assert _check(config) == 1
    err = capsys.readouterr().err
    assert "the database refuses it" in err and "sh-huangpu-nanjingdong" in err, err
    with server_database(config) as factory, factory() as session:  # nothing was changed
        unit = session.get(Unit, "sh-huangpu-nanjingdong")
        assert unit is not None and unit.level is UnitLevel.STREET


def _start(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "civicwatch", "server", "--config", str(config)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_bad_units_file_stops_the_start_with_one_line(tmp_path: Path) -> None:
    units = _units(tmp_path, TWO_PROBLEMS)
    done = _start(_settings(tmp_path, units))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    first = f"civicwatch server: invalid units_file: {units}:6: units[0]: unknown key 'colour'"
    assert lines[0].startswith(first)
    assert f"(and 1 more: 'civicwatch units validate {units}' lists them)" in lines[0]


def test_a_units_file_the_database_refuses_stops_the_start_with_one_line(tmp_path: Path) -> None:
    config = _settings(tmp_path, _units(tmp_path, STREET_AS_DISTRICT))
    _demo_city(config)
    done = _start(config)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "contradicts the database" in lines[0] and "sh-huangpu-nanjingdong" in lines[0]
