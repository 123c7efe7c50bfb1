"""``civicwatch zones validate``: exit status and output."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from zones.cli import add_parser

GOOD = """\
camera_id: cam1
zones:
  - id: market-st
    name: Market street
    kind: no_vending
    polygon: [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]
    objects: [stall]
"""


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="civicwatch")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    status: int = args.func(args)
    return status


def test_good_files_print_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = tmp_path / "a.yaml"
    b = tmp_path / "b.yaml"
    a.write_text(GOOD, encoding="utf-8")
    b.write_text(GOOD.replace("cam1", "cam2"), encoding="utf-8")
    assert _run(["zones", "validate", str(a), str(b)]) == 0
    out = capsys.readouterr()
    assert out.out.splitlines() == [f"{a}: ok (cam1, 1 zone(s))", f"{b}: ok (cam2, 1 zone(s))"]
    assert out.err == ""


def test_bad_files_print_every_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.yaml"
    bad = tmp_path / "bad.yaml"
    missing = tmp_path / "missing.yaml"
    good.write_text(GOOD, encoding="utf-8")
    bad.write_text(
        GOOD.replace("[[0, 0.5], [1, 0.5], [1, 1], [0, 1]]", "[[0, 0], [1, 1], [1, 0], [0, 1]]")
        .replace("[stall]", "[stall, stal]")
        .replace("cam1", "cam9"),
        encoding="utf-8",
    )
    assert _run(["zones", "validate", str(good), str(bad), str(missing)]) == 1
    out = capsys.readouterr()
    assert out.out.splitlines() == [f"{good}: ok (cam1, 1 zone(s))"]
    assert out.err.splitlines() == [
        f"{bad}:6: zone 'market-st': polygon is self-intersecting (Self-intersection[0.5 0.5])",
        f"{bad}:7: zone 'market-st': objects item 2: unknown object 'stal' (known: person, car, "
        "truck, stall, goods, bare_soil, dust_net); did you mean 'stall'?",
        f"{missing}: cannot read: [Errno 2] No such file or directory: '{missing}'",
    ]


def test_same_camera_in_two_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = tmp_path / "a.yaml"
    b = tmp_path / "b.yaml"
    a.write_text(GOOD, encoding="utf-8")
    b.write_text(GOOD, encoding="utf-8")
    assert _run(["zones", "validate", str(a), str(b)]) == 1
    assert capsys.readouterr().err.strip() == f"{b}: camera_id 'cam1' is also used by {a}"


def test_no_files_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        _run(["zones", "validate"])
    assert info.value.code == 2
    assert "FILE" in capsys.readouterr().err


def test_help_explains_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _run(["zones", "validate", "--help"])
    assert "self-intersection" in capsys.readouterr().out
