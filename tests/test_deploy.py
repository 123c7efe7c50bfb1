"""deploy/: compose starts the services the tests start; the dashboard reads real metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from server.core.config import load_settings
from tests.support.seaweedfs import weed_server_args

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return document


def _flags(args: list[str]) -> dict[str, str]:
    return dict(arg.partition("=")[::2] for arg in args)


def test_services_are_the_central_side_and_an_edge(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"broker", "database", "objectstore", "server-1", "server-2", "edge"} <= set(services)
    for name, service in services.items():
        assert service.get("network_mode") == "host", f"{name}: loopback like the tests"


def test_built_services_name_dockerfile_targets(compose: dict[str, Any]) -> None:
    targets = set(re.findall(r"^FROM \S+ AS (\S+)$", (REPO / "Dockerfile").read_text(), re.M))
    built = {n: s["build"] for n, s in compose["services"].items() if "build" in s}
    assert set(built) == {"server-1", "server-2", "edge"}
    for name, build in built.items():
        assert build["target"] in targets, f"{name}: no Dockerfile target {build['target']}"
        assert (DEPLOY / build["context"]).resolve() == REPO
    commands = [compose["services"][n]["command"][0] for n in built]
    assert commands == ["server", "server", "edge"]  # civicwatch subcommands (ENTRYPOINT)


def test_objectstore_runs_the_tests_seaweedfs(compose: dict[str, Any]) -> None:
    command = compose["services"]["objectstore"]["command"]
    assert command[0] == "server"
    ports = {
        "master": 9333,
        "master_grpc": 19333,
        "volume": 8080,
        "volume_grpc": 18080,
        "filer": 8888,
        "filer_grpc": 18888,
        "s3": 8333,
        "s3_grpc": 18333,
        "s3_iceberg": 8181,
        "s3_lance": 9101,
    }
    expected = weed_server_args("/data", "/etc/seaweedfs/s3.json", ports)
    assert _flags(command) == _flags(expected)
    mounts = compose["services"]["objectstore"]["volumes"]
    assert "./seaweedfs/s3.json:/etc/seaweedfs/s3.json:ro" in mounts
    example = json.loads((DEPLOY / "seaweedfs" / "s3.example.json").read_text())
    assert example["identities"][0]["actions"]


def test_broker_uses_the_generated_closed_configuration(compose: dict[str, Any]) -> None:
    broker = compose["services"]["broker"]
    assert broker["command"][-1] == "/etc/mosquitto/conf.d/civicwatch.conf"
    shipped = (REPO / "configs" / "mosquitto" / "civicwatch.conf").read_text()
    assert "allow_anonymous false" in shipped
    assert "/etc/mosquitto/civicwatch/passwd" in shipped  # where the compose mounts it
    assert "./broker:/etc/mosquitto/civicwatch:ro" in broker["volumes"]
    assert "DIR/civicwatch.conf" in (REPO / "server" / "keys_cli.py").read_text()


def test_server_environment_is_valid_settings(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    environment = compose["services"]["server-1"]["environment"]
    assert environment == compose["services"]["server-2"]["environment"]
    for key, value in environment.items():
        monkeypatch.setenv(key, str(value))
    settings = load_settings(None)
    assert settings.evidence_backend == "s3"
    assert settings.s3.endpoint_url == "http://127.0.0.1:8333"
    assert settings.database_url.startswith("postgresql+psycopg://")


def test_dashboard_reads_metrics_that_exist() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "civicwatch.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    names = {
        re.sub(r"_(total|bucket|sum|count)$", "", n)
        for e in exprs
        for n in re.findall(r"civicwatch_\w+", e)
    }
    sources = (REPO / "server" / "metrics.py").read_text() + (
        REPO / "edge" / "metrics.py"
    ).read_text()
    produced = set(re.findall(r'"(civicwatch_\w+)"', sources))
    produced |= {
        f"civicwatch_edge_{n}" for n in re.findall(r'_(?:counter|gauge)\(\s*"(\w+)"', sources)
    }
    produced |= {f"civicwatch_edge_mqtt_{n}" for n in ("connects", "disconnects")}
    assert names and names <= produced, names - produced
