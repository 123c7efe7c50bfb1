"""``civicwatch webhooks add|list|remove`` on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from server.webhooks import cli as webhooks_cli
from server.webhooks.tables import WebhookEventKind


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    webhooks_cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(list(argv))
    result: int = args.func(args)
    return result


def test_kinds_are_the_event_kinds() -> None:
    assert tuple(kind.value for kind in WebhookEventKind) == webhooks_cli.KINDS


def test_add_list_remove(db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "server.yaml"
    config.write_text(yaml.safe_dump({"database_url": db_url, "mqtt_enabled": False}))
    assert (
        run(
            "webhooks",
            "add",
            "--url",
            "https://cases.example.org/hook",
            "--kinds",
            "created,closed",
            "--config",
            str(config),
        )
        == 0
    )
    out = capsys.readouterr().out
    secret = out.split("shown once; the receiver checks signatures with it): ")[1].strip()
    assert secret.startswith("whsec_")
    assert run("webhooks", "list", "--config", str(config)) == 0
    listed = capsys.readouterr().out
    assert "cases.example.org" in listed and "closed,created" in listed
    assert secret not in listed
    assert run("webhooks", "add", "--url", "ftp://x", "--config", str(config)) == 2
    assert "http://" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run("webhooks", "add", "--url", "https://x.org/h", "--kinds", "created,bogus")
    assert run("webhooks", "remove", "1", "--config", str(config)) == 0
    assert run("webhooks", "remove", "1", "--config", str(config)) == 2
    assert run("webhooks", "list", "--config", str(config)) == 0
    assert "cases.example.org" not in capsys.readouterr().out
