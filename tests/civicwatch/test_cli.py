"""The civicwatch command line: help for every command, config checks with clear errors."""

import argparse
from pathlib import Path

import pytest

from civicwatch.cli import build_parser, main

REPO = Path(__file__).resolve().parents[2]
COMMANDS = ["demo", "edge", "server", "zones", "train", "keys", "evidence", "users"]


def test_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for command in COMMANDS:
        assert command in out


def _walk(parser: argparse.ArgumentParser, path: str) -> list[tuple[str, argparse.Action]]:
    found: list[tuple[str, argparse.Action]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.extend(_walk(sub, f"{path} {name}"))
        elif not isinstance(action, argparse._HelpAction):
            found.append((path, action))
    return found


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_is_explained(command: str) -> None:
    actions = [
        (p, a) for p, a in _walk(build_parser(), "civicwatch") if p.split()[1:2] == [command]
    ]
    assert actions, f"civicwatch {command} has no options at all"
    for path, action in actions:
        assert action.help, f"{path}: option {action.dest} has no help"


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage" in capsys.readouterr().out


def test_example_configs_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # example configs use paths relative to the repository
    for edge_config in ("configs/edge.yaml", "configs/edge-gpu.yaml"):
        assert main(["edge", "--config", str(REPO / edge_config), "--check"]) == 0
    assert main(["server", "--config", str(REPO / "configs/server.yaml"), "--check"]) == 0
    zone_files = sorted(str(p) for p in (REPO / "configs/zones").glob("*.yaml"))
    assert main(["zones", "validate", *zone_files]) == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("edge_id: e1\n", ":1: missing key 'detector'"),
        ("edge_id: e1\nbogus: 1\n", ":2: unknown key 'bogus'"),
        ("- just\n- a list\n", "expected a mapping"),
        ("edge_id: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_edge_config_names_the_problem(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, text: str, message: str
) -> None:
    config = tmp_path / "edge.yaml"
    config.write_text(text)
    assert main(["edge", "--config", str(config), "--check"]) == 2
    assert str(config) in caplog.text
    assert message in caplog.text


def test_edge_check_reports_missing_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "edge.yaml"
    config.write_text(
        "edge_id: e1\n"
        f"detector: {{type: yolo, path: {tmp_path / 'missing.onnx'}}}\n"
        "cameras:\n"
        f"  - {{id: demo-cam, source: {{type: file, path: x.mp4}}, "
        f"zones: {REPO / 'configs/zones/demo-cam.yaml'}}}\n"
    )
    assert main(["edge", "--config", str(config), "--check"]) == 1
    assert "missing.onnx" in capsys.readouterr().out
