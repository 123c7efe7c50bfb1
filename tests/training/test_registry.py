"""Publishing into the model registry (training.registry), and the committed files that name
the default model. Reading and verifying the registry is tested in tests/edge/test_registry.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from training.registry import (
    DEFAULT_REGISTRY,
    ModelVerificationError,
    RegistryEntry,
    default_model,
    entry_for,
    load_registry,
    sha256_file,
    upsert_entry,
    verify_model,
)
from training.scenes.classes import CLASSES


@pytest.fixture
def registered(tmp_path: Path) -> tuple[Path, Path]:
    model = tmp_path / "m.onnx"
    model.write_bytes(b"model bytes")
    registry = tmp_path / "registry.yaml"
    upsert_entry(
        registry,
        entry_for(model, registry, name="street", version="1", classes=list(CLASSES), imgsz=320),
    )
    return model, registry


def test_upsert_replaces_the_same_version(registered: tuple[Path, Path]) -> None:
    model, registry_path = registered
    model.write_bytes(b"new model")
    registry = upsert_entry(
        registry_path,
        entry_for(
            model, registry_path, name="street", version="1", classes=list(CLASSES), imgsz=320
        ),
    )
    assert len(registry.models) == 1
    assert verify_model(model, registry).sha256 == sha256_file(model)
    assert registry.get("street").version == "1"
    with pytest.raises(ModelVerificationError, match="not registered"):
        registry.get("street", "2")


def test_default_model_and_upsert_keeps_it(registered: tuple[Path, Path], tmp_path: Path) -> None:
    model, registry_path = registered
    with pytest.raises(ModelVerificationError, match="names no default"):
        default_model(registry_path)
    registry_path.write_text(
        registry_path.read_text().replace("version: 1\n", "version: 1\ndefault: m.onnx\n")
    )
    assert default_model(registry_path) == model.resolve()
    other = tmp_path / "m2.onnx"
    other.write_bytes(b"second model")
    registry = upsert_entry(
        registry_path,
        entry_for(other, registry_path, name="street", version="2", classes=["a"], imgsz=416),
    )
    assert registry.default == "m.onnx"
    assert [e.version for e in registry.models] == ["1", "2"]
    assert default_model(registry_path) == model.resolve()


@pytest.mark.parametrize("config", ["configs/edge.yaml", "configs/edge-gpu.yaml"])
def test_sample_edge_configs_use_the_default_model(config: str) -> None:
    from edge.config import load_edge_config

    repo = DEFAULT_REGISTRY.parent.parent
    loaded = load_edge_config(repo / config)
    assert (repo / loaded.detector.path).resolve() == default_model()
    assert loaded.model_registry is not None
    assert (repo / loaded.model_registry).resolve() == DEFAULT_REGISTRY.resolve()


def test_demo_uses_the_default_model() -> None:
    from civicwatch.demo import DemoConfig

    config = DemoConfig()
    assert config.model == default_model()
    assert config.model_registry == DEFAULT_REGISTRY
    assert verify_model(config.model, load_registry(config.model_registry)).version == "5"
    assert config.zones.is_file()


def test_upsert_keeps_retired_entries_and_writes_the_flag_only_where_set(
    registered: tuple[Path, Path], tmp_path: Path
) -> None:
    model, registry_path = registered
    raw = yaml.safe_load(registry_path.read_text())
    raw["models"][0]["retired"] = True
    registry_path.write_text(yaml.safe_dump(raw))
    model.unlink()  # a retired model's file is gone from the tree
    other = tmp_path / "m2.onnx"
    other.write_bytes(b"second model")
    registry = upsert_entry(
        registry_path,
        entry_for(other, registry_path, name="street", version="2", classes=["a"], imgsz=416),
    )
    assert [(e.version, e.retired) for e in registry.models] == [("1", True), ("2", False)]
    written = yaml.safe_load(registry_path.read_text())["models"]
    assert written[0]["retired"] is True and "retired" not in written[1]
    assert registry.get("street").version == "2"
    with pytest.raises(ModelVerificationError, match="retired"):
        verify_model(model, registry)


def test_entry_for_names_files_relative_to_the_registry(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    model = tmp_path / "sub" / "m.onnx"
    model.write_bytes(b"bytes")
    card = tmp_path / "sub" / "m.md"
    entry = entry_for(
        model, tmp_path / "registry.yaml", name="m", version="3", classes=["a"], imgsz=64, card=card
    )
    assert entry == RegistryEntry(
        name="m",
        version="3",
        file="sub/m.onnx",
        sha256=sha256_file(model),
        size_bytes=5,
        classes=["a"],
        imgsz=64,
        card="sub/m.md",
    )
