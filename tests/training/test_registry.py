"""The model registry: loading, verifying files, and the committed model's entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.registry import (
    DEFAULT_REGISTRY,
    ModelVerificationError,
    RegistryError,
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


def test_verify_registered_model(registered: tuple[Path, Path]) -> None:
    model, registry_path = registered
    entry = verify_model(model, load_registry(registry_path))
    assert entry.name == "street" and entry.sha256 == sha256_file(model)
    assert entry.classes == list(CLASSES)


def test_changed_content_is_refused(registered: tuple[Path, Path]) -> None:
    model, registry_path = registered
    model.write_bytes(b"model bytEs")  # same size, other content
    with pytest.raises(ModelVerificationError, match=r"sha256 .* but the registry lists"):
        verify_model(model, load_registry(registry_path))


def test_changed_size_is_refused(registered: tuple[Path, Path]) -> None:
    model, registry_path = registered
    model.write_bytes(b"longer model bytes")
    with pytest.raises(ModelVerificationError, match="bytes but the registry lists"):
        verify_model(model, load_registry(registry_path))


def test_unknown_file_is_refused(registered: tuple[Path, Path], tmp_path: Path) -> None:
    _, registry_path = registered
    other = tmp_path / "other.onnx"
    other.write_bytes(b"x")
    with pytest.raises(ModelVerificationError, match="not in the registry"):
        verify_model(other, load_registry(registry_path))


def test_missing_file_is_refused(registered: tuple[Path, Path], tmp_path: Path) -> None:
    _, registry_path = registered
    with pytest.raises(ModelVerificationError, match="does not exist"):
        verify_model(tmp_path / "nope.onnx", load_registry(registry_path))


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


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("models: [", "not valid YAML"),
        ("models:\n  - name: x\n", "invalid"),
        ("models: []\nextra: 1\n", "extra"),
        (
            "models:\n"
            + "".join(
                f"  - {{name: a, version: '1', file: {f}, sha256: '{'0' * 64}', size_bytes: 1, "
                "classes: [a], imgsz: 320}\n"
                for f in ("a.onnx", "b.onnx")
            ),
            "listed twice",
        ),
    ],
)
def test_invalid_registry_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "registry.yaml"
    path.write_text(text)
    with pytest.raises(RegistryError, match=message):
        load_registry(path)


def test_default_must_be_registered(registered: tuple[Path, Path]) -> None:
    _, registry_path = registered
    text = registry_path.read_text()
    registry_path.write_text(text.replace("version: 1\n", "version: 1\ndefault: gone.onnx\n"))
    with pytest.raises(RegistryError, match=r"default gone\.onnx is not a registered file"):
        load_registry(registry_path)


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


def test_missing_registry_file(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="not found"):
        load_registry(tmp_path / "none.yaml")


def test_committed_registry_lists_the_committed_models() -> None:
    registry = load_registry(DEFAULT_REGISTRY)
    for entry in registry.models:
        path = registry.path_of(entry)
        assert verify_model(path, registry) == entry
        assert path.stat().st_size < 10 * 1024 * 1024
    default = registry.default_entry()
    assert default.name == "civicwatch-street"
    assert default.classes == list(CLASSES)
    assert default_model() == registry.path_of(default)


@pytest.mark.parametrize("config", ["configs/edge.yaml", "configs/edge-gpu.yaml"])
def test_sample_edge_configs_use_the_default_model(config: str) -> None:
    from edge.config import load_edge_config

    repo = DEFAULT_REGISTRY.parent.parent
    loaded = load_edge_config(repo / config)
    assert (repo / loaded.detector.path).resolve() == default_model()


def test_demo_uses_the_default_model() -> None:
    from civicwatch.demo import DemoConfig

    repo = DEFAULT_REGISTRY.parent.parent
    assert (repo / DemoConfig().model).resolve() == default_model()
