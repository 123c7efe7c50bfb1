"""Training configuration and the CLI wiring."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from training.cli import add_parser
from training.config import DEFAULT_CONFIG, REPO_ROOT, ConfigError, load_config


def test_committed_config_loads_with_absolute_paths() -> None:
    config = load_config(DEFAULT_CONFIG)
    assert config.model.is_file()
    assert config.model.is_absolute() and config.runs_dir.is_absolute()
    assert config.export.output == REPO_ROOT / "models" / "civicwatch-street-v1.onnx"
    assert config.holdout.seed != config.dataset.seed


@pytest.mark.parametrize(
    "recipe",
    sorted((REPO_ROOT / "training" / "recipes").rglob("*.yaml")),
    ids=lambda p: p.relative_to(REPO_ROOT).as_posix(),
)
def test_committed_recipes_load(recipe: Path) -> None:
    config = load_config(recipe)
    assert config.model.is_file()
    assert config.grown_from is None or config.grown_from.is_file()
    assert config.holdout.seed != config.dataset.seed
    # the held-out scenes are rendered like the training ones; the network input may enlarge them
    assert config.holdout.imgsz == config.dataset.imgsz <= config.train.imgsz
    assert config.train.imgsz % 32 == 0
    assert config.export.output.parent == REPO_ROOT / "models"


def _write(tmp_path: Path, change: dict[str, object]) -> Path:
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw.update(change)
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"epochs": 3}, r"train\.yaml:\d+: unknown key 'epochs'"),
        ({"nmae": "x"}, r"train\.yaml:\d+: unknown key 'nmae'; did you mean 'name'\?"),
        ({"train": {"epochs": 0}}, "train.epochs"),
        ({"holdout": {"root": "x", "count": 3, "seed": 1}}, "holdout.seed must differ"),
        ({"name": "has space"}, "name"),
        (
            {"dataset": {"root": "x", "count": 3, "seed": 1, "repeat": {"bike": 2}}},
            "repeat: unknown class 'bike'",
        ),
        (
            {"dataset": {"root": "x", "count": 3, "seed": 1, "repeat": {"goods": 0}}},
            "repeat: goods must be listed 1..10 times",
        ),
    ],
)
def test_invalid_config_names_the_field(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(_write(tmp_path, change))


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n")
    with pytest.raises(
        ConfigError, match=r"bad\.yaml:1: expected a mapping of training settings, got list"
    ):
        load_config(bad)


def test_cli_registers_subcommands_with_handlers() -> None:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command", required=True))
    for argv in (["train", "--epochs", "2"], ["export"], ["evaluate"]):
        args = parser.parse_args(argv)
        assert callable(args.func)
    assert parser.parse_args(["train", "--epochs", "2"]).epochs == 2


def test_cli_reports_a_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["export", "--config", str(tmp_path / "none.yaml")])
    assert args.func(args) == 2
    assert "not found" in capsys.readouterr().err
