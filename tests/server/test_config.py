"""Server settings: defaults, YAML file, environment precedence, refusals; the CLI."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from server.cli import add_parser
from server.core.config import Settings, SettingsError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(f"CIVICWATCH_{name.upper()}", raising=False)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "server.yaml"
    path.write_text(text)
    return path


def test_defaults() -> None:
    settings = load_settings(None)
    assert settings.database_url == "sqlite:///var/server/civicwatch.db"
    assert settings.evidence_dir == Path("var/server/evidence")
    assert (settings.mqtt_host, settings.mqtt_port, settings.mqtt_protocol) == (
        "127.0.0.1",
        1883,
        "5",
    )
    assert settings.mqtt_password is None


def test_file_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "mqtt_host: broker.local\nmqtt_port: 1884\nhttp_port: 9000\n")
    assert load_settings(path).mqtt_host == "broker.local"
    monkeypatch.setenv("CIVICWATCH_MQTT_PORT", "1999")
    monkeypatch.setenv("CIVICWATCH_MQTT_PASSWORD", "s3cret")
    monkeypatch.setenv("CIVICWATCH_MQTT_USERNAME", "server")
    monkeypatch.setenv("CIVICWATCH_SHARED_DATA", "/elsewhere")  # someone else's variable
    settings = load_settings(path, http_port=9100)
    assert settings.mqtt_host == "broker.local"
    assert settings.mqtt_port == 1999
    assert settings.http_port == 9100
    assert settings.mqtt_username == "server"
    assert settings.mqtt_password is not None
    assert settings.mqtt_password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mqtt_hots: x\n", "unknown setting(s) mqtt_hots"),
        ("mqtt_password: x\n", "may only come from the environment"),
        ("mqtt_port: 70000\n", "mqtt_port"),
        ("mqtt_protocol: '4'\n", "mqtt_protocol"),
        ("- a\n- b\n", "top level must be a mapping"),
        ("mqtt_port: [\n", "not valid YAML"),
        ("mqtt_client_id: 'has space'\n", "mqtt_client_id"),
    ],
)
def test_bad_files_are_refused_naming_file_and_field(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SettingsError, match=r"server\.yaml") as info:
        load_settings(path)
    assert message in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read config file"):
        load_settings(tmp_path / "absent.yaml")


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, "")) == load_settings(None)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="civicwatch")
    add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_cli_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CIVICWATCH_MQTT_PASSWORD", "s3cret")
    path = write(tmp_path, "database_url: postgresql+psycopg://cw:dbpass@db/cw\n")
    args = _parse(["server", "--config", str(path), "--port", "8123", "--check"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "configuration OK" in out and "http_port: 8123" in out
    assert "s3cret" not in out and "dbpass" not in out


def test_cli_refuses_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _parse(["server", "--config", str(write(tmp_path, "nope: 1\n")), "--check"])
    assert args.func(args) == 2
    assert "unknown setting(s) nope" in capsys.readouterr().err
