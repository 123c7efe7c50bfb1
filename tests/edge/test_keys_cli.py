"""``civicwatch keys create``: an edge makes its own key pair, with no server code."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from edge import keys_cli
from edge.chain import EdgeKey


def _create(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="civicwatch keys")
    keys_cli.add_commands(parser.add_subparsers(dest="keys_command", required=True))
    args = parser.parse_args(["create", *argv])
    result: int = args.func(args)
    return result


def test_create_writes_a_private_key_and_its_public_half(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _create("--edge-id", "edge-1", "--out", str(tmp_path)) == 0
    private, public = tmp_path / "edge-1.key", tmp_path / "edge-1.pub"
    assert private.stat().st_mode & 0o777 == 0o600
    key = EdgeKey.load(private)
    assert public.read_bytes() == key.public_pem()
    out = capsys.readouterr().out
    assert f"key {key.key_id}" in out
    assert f"civicwatch keys register --edge-id edge-1 --public-key {public}" in out


def test_create_keeps_an_existing_key_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _create("--edge-id", "edge-1", "--out", str(tmp_path)) == 0
    first = EdgeKey.load(tmp_path / "edge-1.key").key_id
    assert _create("--edge-id", "edge-1", "--out", str(tmp_path)) == 2
    assert "already exists" in capsys.readouterr().err
    assert EdgeKey.load(tmp_path / "edge-1.key").key_id == first
    assert _create("--edge-id", "edge-1", "--out", str(tmp_path), "--force") == 0
    assert EdgeKey.load(tmp_path / "edge-1.key").key_id != first


@pytest.mark.parametrize("edge_id", ["", "edge/1", "edge+", "edge 1"])
def test_create_refuses_an_id_that_is_not_a_topic_segment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], edge_id: str
) -> None:
    assert _create("--edge-id", edge_id, "--out", str(tmp_path / "keys")) == 2
    assert capsys.readouterr().err.startswith("civicwatch keys create: ")
    assert not (tmp_path / "keys").exists()


def test_create_reports_an_unwritable_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert _create("--edge-id", "edge-1", "--out", str(blocker / "keys")) == 2
    assert "civicwatch keys create: " in capsys.readouterr().err


def test_the_edge_keys_command_loads_no_server_code() -> None:
    probe = (
        "import sys, edge.keys_cli; "
        "print(sorted(m for m in sys.modules if m == 'server' or m.startswith('server.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
