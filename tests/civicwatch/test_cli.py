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


def _site_edge_config(tmp_path: Path) -> Path:
    """An edge whose camera's zones name a construction site (so it wants sensors)."""
    model = tmp_path / "model.onnx"
    model.write_bytes(b"not read by --check without a registry")
    config = tmp_path / "edge.yaml"
    config.write_text(
        "edge_id: e1\n"
        f"detector: {{type: yolo, path: {model}}}\nmodel_registry: null\n"
        "cameras:\n"
        f"  - {{id: example-street, source: {{type: file, path: x.mp4}}, "
        f"zones: {REPO / 'configs/zones/example-street.yaml'}}}\n"
    )
    return config


@pytest.mark.parametrize(
    ("sensor_user", "warning"),
    [
        ("e1.sensors", None),
        (None, "CIVICWATCH_SENSORS_MQTT_USERNAME is missing while the publisher logs in"),
        ("e1", "names the same account as CIVICWATCH_MQTT_USERNAME"),
    ],
)
def test_edge_check_reports_the_broker_logins(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    sensor_user: str | None,
    warning: str | None,
) -> None:
    monkeypatch.setenv("CIVICWATCH_MQTT_USERNAME", "e1")
    monkeypatch.setenv("CIVICWATCH_MQTT_PASSWORD", "pub-secret-1")
    monkeypatch.delenv("CIVICWATCH_SENSORS_MQTT_USERNAME", raising=False)
    monkeypatch.setenv("CIVICWATCH_SENSORS_MQTT_PASSWORD", "sens-secret-2")
    if sensor_user is not None:
        monkeypatch.setenv("CIVICWATCH_SENSORS_MQTT_USERNAME", sensor_user)
    assert main(["edge", "--config", str(_site_edge_config(tmp_path)), "--check"]) == 0
    out = capsys.readouterr().out
    assert "mqtt login: CIVICWATCH_MQTT_USERNAME <set>, CIVICWATCH_MQTT_PASSWORD <set>" in out
    user_state = "missing" if sensor_user is None else "<set>"
    assert f"sensors login: CIVICWATCH_SENSORS_MQTT_USERNAME {user_state}, " in out
    assert "pub-secret-1" not in out and "sens-secret-2" not in out
    assert "e1.sensors" not in out
    warnings = [line for line in out.splitlines() if line.startswith("warning:")]
    if warning is None:
        assert warnings == []
    else:
        assert len(warnings) == 1 and warning in warnings[0]
        assert "WITHOUT sensor readings" in warnings[0]


def test_edge_check_skips_the_sensor_login_without_a_site(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CIVICWATCH_MQTT_USERNAME", raising=False)
    config = _site_edge_config(tmp_path)
    config.write_text(config.read_text().replace("example-street", "demo-cam"))
    assert main(["edge", "--config", str(config), "--check"]) == 0
    out = capsys.readouterr().out
    assert "mqtt login: CIVICWATCH_MQTT_USERNAME missing" in out
    assert "sensors login" not in out and "warning" not in out
