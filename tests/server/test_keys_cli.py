"""``civicwatch keys register|list|mosquitto``: the server's registry of edge keys."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml
from sqlalchemy.orm import Session, sessionmaker

from civicwatch.cli import main
from contracts.chain import public_key_to_text
from edge.chain import EdgeKey
from server import chain_store, keys_cli
from server.evidence_store import EvidenceStore
from tests.contracts.chain_builders import Signer, edge_messages
from tests.server.test_chain_verify import _send


def _keys(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="civicwatch keys")
    keys_cli.add_commands(parser.add_subparsers(dest="keys_command", required=True))
    args = parser.parse_args(list(argv))
    result: int = args.func(args)
    return result


@pytest.fixture
def config(tmp_path: Path, db_url: str) -> Path:
    """Server settings on the test database (SQLite file or PostgreSQL)."""
    path = tmp_path / "server.yaml"
    path.write_text(
        yaml.safe_dump({"database_url": db_url, "evidence_dir": str(tmp_path / "evidence")})
    )
    return path


def _public_key(directory: Path, edge_id: str) -> tuple[EdgeKey, Path]:
    key = EdgeKey.generate()
    _, public = key.save(directory, edge_id)
    return key, public


def _register(config: Path, edge_id: str, public: Path) -> int:
    return _keys(
        "register", "--edge-id", edge_id, "--public-key", str(public), "--config", str(config)
    )


def test_a_registered_key_is_listed(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _keys("list", "--config", str(config)) == 0
    assert capsys.readouterr().out == "edge_id\tkey_id\tpublic_key (base64)\tregistered_at\n"
    key, public = _public_key(tmp_path, "edge-1")
    assert _register(config, "edge-1", public) == 0
    assert capsys.readouterr().out == f"edge edge-1: key {key.key_id} registered\n"
    assert _register(config, "edge-1", public) == 0  # again: nothing changes
    assert _keys("list", "--config", str(config)) == 0
    rows = capsys.readouterr().out.splitlines()[2:]
    assert len(rows) == 1 and rows[0].startswith(f"edge-1\t{key.key_id}\t")


def test_registering_verifies_the_records_that_waited_for_the_key(
    tmp_path: Path,
    config: Path,
    session_factory: sessionmaker[Session],
    store: EvidenceStore,
    capsys: pytest.CaptureFixture[str],
) -> None:
    signer = Signer()
    _send(session_factory, store, edge_messages(signer, seed="early")[1])
    with session_factory() as session:
        waiting = chain_store.records_of_edge(session, edge_id=signer.edge_id)
    assert waiting and not any(row.verified for row in waiting)
    public = tmp_path / "edge-1.pub"
    public.write_text(public_key_to_text(signer.key.public_key()))  # base64 is accepted too
    assert _register(config, signer.edge_id, public) == 0
    assert f"; {len(waiting)} waiting record(s) verified" in capsys.readouterr().out
    with session_factory() as session:
        rows = chain_store.records_of_edge(session, edge_id=signer.edge_id)
    assert [row.verified for row in rows] == [True] * len(waiting)


def test_register_refuses_what_it_cannot_register(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, public = _public_key(tmp_path, "edge-1")
    not_a_key = tmp_path / "notes.pub"
    not_a_key.write_text("hello\n")
    cases = [
        (("edge/1", public, config), "is not a valid topic segment"),
        (("edge-1", tmp_path / "missing.pub", config), "missing.pub"),
        (("edge-1", not_a_key, config), f"{not_a_key}: "),
        (("edge-1", public, tmp_path / "missing.yaml"), "missing.yaml"),
    ]
    for (edge_id, key_file, settings), message in cases:
        assert _register(settings, edge_id, key_file) == 2
        err = capsys.readouterr().err
        assert err.startswith("civicwatch keys register: ") and message in err, err
    assert _register(config, "edge-1", public) == 0
    assert _register(config, "edge-2", public) == 2
    assert "is already registered to edge edge-1" in capsys.readouterr().err


def test_mosquitto_writes_an_account_per_registered_edge(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for edge_id in ("edge-1", "edge-2"):
        assert _register(config, edge_id, _public_key(tmp_path / "keys", edge_id)[1]) == 0
    out = tmp_path / "broker"
    assert _keys("mosquitto", "--out", str(out), "--config", str(config)) == 0
    report = capsys.readouterr().out
    assert "2 edge account(s) and server account(s) civicwatch-server," in report
    assert "2 sensor subscriber account(s)" in report
    assert str(out / "civicwatch.conf") in report
    assert f"password_file {out / 'passwd'}" in (out / "civicwatch.conf").read_text()
    users = [line.split(":")[0] for line in (out / "passwd").read_text().splitlines()]
    assert sorted(users) == [
        "civicwatch-sensor-feed",
        "civicwatch-server",
        "edge-1",
        "edge-1.sensors",
        "edge-2",
        "edge-2.sensors",
    ]
    acl = (out / "acl").read_text()
    assert "civicwatch/v1/edges/edge-2/#" in acl
    assert "user edge-1.sensors\ntopic read civicwatch/v1/sensors/#\n" in acl
    assert (
        (out / "credentials" / "edge-1.sensors.env")
        .read_text()
        .startswith(
            "CIVICWATCH_SENSORS_MQTT_USERNAME=edge-1.sensors\nCIVICWATCH_SENSORS_MQTT_PASSWORD="
        )
    )
    credentials = out / "credentials" / "edge-1.env"
    assert credentials.stat().st_mode & 0o777 == 0o600
    clash = ("mosquitto", "--out", str(out), "--server-user", "edge-1", "--config", str(config))
    assert _keys(*clash) == 2
    assert "is the server's MQTT user name" in capsys.readouterr().err
    missing = tmp_path / "missing.yaml"
    assert _keys("mosquitto", "--out", str(out), "--config", str(missing)) == 2


def test_mosquitto_sensor_accounts_read_only_the_sites_named(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for edge_id in ("edge-1", "edge-2"):
        assert _register(config, edge_id, _public_key(tmp_path / "keys", edge_id)[1]) == 0
    out = tmp_path / "broker"
    sites = ("--sensor-sites", "edge-1=site-7,site-3", "--sensor-sites", "edge-2=")
    base = ("mosquitto", "--out", str(out), "--config", str(config))
    assert _keys(*base, *sites, "--sensor-feed-user", "none") == 0
    assert "1 sensor subscriber account(s)" in capsys.readouterr().out
    acl = (out / "acl").read_text()
    assert (
        "user edge-1.sensors\ntopic read civicwatch/v1/sensors/site-3/+\n"
        "topic read civicwatch/v1/sensors/site-7/+\n"
    ) in acl
    assert "edge-2.sensors" not in acl and "civicwatch-sensor-feed" not in acl
    assert _keys(*base, "--sensor-sites", "edge-9=site-1") == 2
    assert "unregistered edge(s): edge-9" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _keys(*base, "--sensor-sites", "edge-1")
    assert "expected EDGE_ID=SITE" in capsys.readouterr().err
    assert _keys(*base, "--sensor-feed-user", "edge-1.sensors") == 2
    assert "would belong to two accounts" in capsys.readouterr().err


def test_mosquitto_gives_every_server_replica_its_own_account(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _register(config, "edge-1", _public_key(tmp_path / "keys", "edge-1")[1]) == 0
    out = tmp_path / "broker"
    base = ("mosquitto", "--out", str(out), "--config", str(config))
    assert _keys(*base, "--server-replicas", "2") == 0
    assert "server account(s) civicwatch-server, civicwatch-server-2" in capsys.readouterr().out
    users = [line.split(":")[0] for line in (out / "passwd").read_text().splitlines()]
    assert {"civicwatch-server", "civicwatch-server-2"} <= set(users)
    acl = (out / "acl").read_text()
    assert "user civicwatch-server-2\n" in acl
    assert (out / "credentials" / "civicwatch-server-2.env").exists()
    assert _keys(*base, "--server-replicas", "0") == 2
    assert "server_replicas must be at least 1" in capsys.readouterr().err


def test_the_keys_group_joins_the_edge_and_server_actions(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["keys", "--help"])
    usage = capsys.readouterr().out
    assert all(action in usage for action in ("create", "register", "list", "mosquitto"))
    keys = tmp_path / "keys"
    assert main(["keys", "create", "--edge-id", "edge-1", "--out", str(keys)]) == 0
    public = keys / "edge-1.pub"
    argv = ["keys", "register", "--edge-id", "edge-1", "--public-key", str(public)]
    assert main([*argv, "--config", str(config)]) == 0
    key = EdgeKey.load(keys / "edge-1.key")
    assert f"key {key.key_id} registered" in capsys.readouterr().out
