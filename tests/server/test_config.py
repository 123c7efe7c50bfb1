"""Server settings: defaults, YAML file, environment precedence, refusals; the CLI."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from contracts.limits import MAX_EVIDENCE_BYTES
from contracts.mqtt import MqttCredentials, MqttSettings
from server.cli import add_parser
from server.core.config import SettingsError, load_settings
from server.ingest.handlers.base import IngestLimits


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in os.environ:
        if name.upper().startswith("CIVICWATCH_"):
            monkeypatch.delenv(name)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "server.yaml"
    path.write_text(text)
    return path


def test_defaults() -> None:
    settings = load_settings(None)
    assert settings.database_url == "sqlite:///var/server/civicwatch.db"
    assert settings.evidence_dir == Path("var/server/evidence")
    assert settings.mqtt == MqttSettings()
    assert (settings.mqtt.host, settings.mqtt.port, settings.mqtt.protocol) == (
        "127.0.0.1",
        1883,
        "5",
    )
    assert settings.mqtt.credentials() is None


def test_file_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(
        tmp_path, "mqtt:\n  host: broker.local\n  port: 1884\n  keepalive_s: 40\nhttp_port: 9000\n"
    )
    assert load_settings(path).mqtt.host == "broker.local"
    monkeypatch.setenv("CIVICWATCH_MQTT__PORT", "1999")
    monkeypatch.setenv("civicwatch_mqtt__client_id", "server-2")  # names are case-insensitive
    monkeypatch.setenv("CIVICWATCH_MQTT_PASSWORD", "s3cret")
    monkeypatch.setenv("CIVICWATCH_MQTT_USERNAME", "server")
    monkeypatch.setenv("CIVICWATCH_SHARED_DATA", "/elsewhere")  # someone else's variable
    settings = load_settings(path, http_port=9100)
    # The environment wins field by field inside the block; the file keeps the rest.
    assert (settings.mqtt.host, settings.mqtt.port, settings.mqtt.keepalive_s) == (
        "broker.local",
        1999,
        40,
    )
    assert settings.mqtt.client_id == "server-2"
    assert settings.http_port == 9100
    assert settings.mqtt.credentials() == MqttCredentials("server", "s3cret")
    assert "s3cret" not in repr(settings) and "s3cret" not in repr(settings.mqtt.credentials())


def test_environment_json_block_replaces_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "mqtt:\n  host: broker.local\n  port: 1884\n")
    monkeypatch.setenv("CIVICWATCH_MQTT", '{"host": "other.local"}')
    assert (load_settings(path).mqtt.host, load_settings(path).mqtt.port) == ("other.local", 1883)


def test_overrides_win_over_file_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "mqtt:\n  host: broker.local\n")
    monkeypatch.setenv("CIVICWATCH_MQTT__HOST", "env.local")
    settings = load_settings(path, mqtt=MqttSettings(host="given.local", port=1999))
    assert (settings.mqtt.host, settings.mqtt.port) == ("given.local", 1999)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mqtt_host: x\n", ":1: unknown setting 'mqtt_host'"),
        ("mqtt:\n  hots: x\n", ":2: mqtt: unknown key 'hots'; did you mean 'host'?"),
        ("mqtt:\n  password: x\n", "password may only come from the environment"),
        ("mqtt:\n  username: x\n", "username may only come from the environment"),
        ("mqtt:\n  port: 70000\n", "mqtt.port"),
        ("mqtt:\n  protocol: '4'\n", "mqtt.protocol"),
        ("mqtt: 5\n", "mqtt"),
        ("- a\n- b\n", "expected a mapping of setting names to values, got list"),
        ("datbase_url: x\n", "unknown setting 'datbase_url'; did you mean 'database_url'?"),
        ("mqtt: [\n", "not valid YAML"),
        ("mqtt:\n  client_id: 'has space'\n", "mqtt.client_id"),
    ],
)
def test_bad_files_are_refused_naming_file_and_field(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SettingsError, match=r"server\.yaml") as info:
        load_settings(path)
    assert message in str(info.value)


def test_max_evidence_bytes_is_the_contracts_one_limit(tmp_path: Path) -> None:
    """Issue 17: the server accepted evidence the edge may not make and the broker refuses."""
    assert load_settings(None).max_evidence_bytes == MAX_EVIDENCE_BYTES
    assert IngestLimits().max_evidence_bytes == MAX_EVIDENCE_BYTES
    assert load_settings(None, max_evidence_bytes=4096).max_evidence_bytes == 4096
    path = write(tmp_path, f"max_evidence_bytes: {MAX_EVIDENCE_BYTES + 1}\n")
    with pytest.raises(SettingsError, match="max_evidence_bytes"):
        load_settings(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read"):
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
    monkeypatch.setenv("CIVICWATCH_MQTT_USERNAME", "server")
    monkeypatch.setenv("CIVICWATCH_MQTT_PASSWORD", "s3cret")
    path = write(tmp_path, f"database_url: sqlite:///{tmp_path / 'cases.db'}\n")
    args = _parse(["server", "--config", str(path), "--port", "8123", "--check"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "configuration OK" in out and "http_port: 8123" in out
    assert "s3cret" not in out
    assert "mqtt_login: <set>" in out


def test_cli_check_hides_the_database_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "database_url: postgresql+psycopg://cw:dbpass@db.invalid/cw\n")
    args = _parse(["server", "--config", str(path), "--check"])
    assert args.func(args) == 1  # the database cannot be reached
    captured = capsys.readouterr()
    assert "configuration OK" in captured.out and "mqtt_login: None" in captured.out
    assert "dbpass" not in captured.out + captured.err


def test_cli_refuses_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _parse(["server", "--config", str(write(tmp_path, "nope: 1\n")), "--check"])
    assert args.func(args) == 2
    assert "server.yaml:1: unknown setting 'nope'" in capsys.readouterr().err
