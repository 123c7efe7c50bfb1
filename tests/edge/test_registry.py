"""The model registry reader (edge.registry): loading, verifying files, retired entries."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from edge.registry import (
    REGISTRY_ENV,
    ModelVerificationError,
    RegistryError,
    default_model,
    default_registry_path,
    load_registry,
    package_file,
    sha256_file,
    verify_model,
)

CLASSES = ["person", "car"]


def _entry(file: str, content: bytes, version: str = "1", **extra: Any) -> dict[str, Any]:
    return {
        "name": "street",
        "version": version,
        "file": file,
        "sha256": hashlib.sha256(content).hexdigest(),
        "size_bytes": len(content),
        "classes": CLASSES,
        "imgsz": 320,
        **extra,
    }


def _write(path: Path, models: list[dict[str, Any]], default: str | None = None) -> Path:
    data: dict[str, Any] = {"version": 1, "models": models}
    if default is not None:
        data["default"] = default
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def registered(tmp_path: Path) -> tuple[Path, Path]:
    model = tmp_path / "m.onnx"
    model.write_bytes(b"model bytes")
    registry = _write(tmp_path / "registry.yaml", [_entry("m.onnx", b"model bytes")])
    return model, registry


def test_verify_registered_model(registered: tuple[Path, Path]) -> None:
    model, registry_path = registered
    entry = verify_model(model, load_registry(registry_path))
    assert entry.name == "street" and entry.sha256 == sha256_file(model)
    assert entry.classes == CLASSES and not entry.retired


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


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("models: [", "not valid YAML"),
        ("", "invalid"),
        ("models:\n  - name: x\n", "invalid"),
        ("models: []\nextra: 1\n", "extra"),
        ("models: []\nversion: 2\n", "version"),
        (
            "models:\n"
            + "".join(
                f"  - {{name: a, version: '1', file: {f}, sha256: '{'0' * 64}', size_bytes: 1, "
                "classes: [a], imgsz: 320}\n"
                for f in ("a.onnx", "b.onnx")
            ),
            "listed twice",
        ),
        (
            "models:\n  - {name: a, version: '1', file: a.onnx, sha256: '0', size_bytes: 1, "
            "classes: [a], imgsz: 320}\n",
            "sha256",
        ),
    ],
)
def test_invalid_registry_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "registry.yaml"
    path.write_text(text)
    with pytest.raises(RegistryError, match=message):
        load_registry(path)


def test_empty_registry_has_no_default(tmp_path: Path) -> None:
    registry = load_registry(_write(tmp_path / "registry.yaml", []))
    assert registry.models == [] and registry.live == []
    with pytest.raises(ModelVerificationError, match="names no default"):
        registry.default_entry()
    with pytest.raises(ModelVerificationError, match=r"registered: none"):
        registry.get("street")


def test_default_must_be_registered(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.yaml", [_entry("m.onnx", b"x")], default="gone.onnx")
    with pytest.raises(RegistryError, match=r"default gone\.onnx is not a registered file"):
        load_registry(path)


def test_default_model(registered: tuple[Path, Path]) -> None:
    model, registry_path = registered
    with pytest.raises(ModelVerificationError, match="names no default"):
        default_model(registry_path)
    _write(registry_path, [_entry("m.onnx", b"model bytes")], default="m.onnx")
    assert default_model(registry_path) == model.resolve()


def test_missing_registry_file(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="not found"):
        load_registry(tmp_path / "none.yaml")


def test_retired_entry_is_refused_and_skipped(tmp_path: Path) -> None:
    old, new = tmp_path / "v1.onnx", tmp_path / "v2.onnx"
    old.write_bytes(b"old")
    new.write_bytes(b"new")
    path = _write(
        tmp_path / "registry.yaml",
        [_entry("v1.onnx", b"old", "1", retired=True), _entry("v2.onnx", b"new", "2")],
    )
    registry = load_registry(path)
    assert [e.version for e in registry.live] == ["2"]
    assert registry.get("street").version == "2"
    assert registry.get("street", "1").retired  # still on record
    # refused even when the file is still there with the recorded content
    with pytest.raises(ModelVerificationError, match=r"retired .*use one of: v2\.onnx"):
        verify_model(old, registry)
    old.unlink()
    with pytest.raises(ModelVerificationError, match="retired"):
        verify_model(old, registry)
    assert verify_model(new, registry).version == "2"


def test_retired_entry_cannot_be_the_default(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "registry.yaml", [_entry("v1.onnx", b"old", retired=True)], default="v1.onnx"
    )
    with pytest.raises(RegistryError, match=r"default v1\.onnx is retired"):
        load_registry(path)


def test_only_retired_entries_leave_get_nothing(tmp_path: Path) -> None:
    path = _write(tmp_path / "registry.yaml", [_entry("v1.onnx", b"old", retired=True)])
    with pytest.raises(ModelVerificationError, match=r"not registered \(registered: none\)"):
        load_registry(path).get("street")


def test_environment_names_another_registry(
    registered: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, registry_path = registered
    monkeypatch.setenv(REGISTRY_ENV, str(registry_path))
    assert default_registry_path() == registry_path
    assert load_registry().root == registry_path.parent.resolve()
    monkeypatch.setenv(REGISTRY_ENV, "")
    assert default_registry_path() == package_file("civicwatch.models", "registry.yaml")


def test_package_file_of_a_missing_package() -> None:
    with pytest.raises(FileNotFoundError, match="not installed"):
        package_file("civicwatch.no_such_data", "x.yaml")


def test_packaged_registry_lists_the_shipped_models(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REGISTRY_ENV, raising=False)
    registry = load_registry()
    assert registry.root == package_file("civicwatch.models", "registry.yaml").parent.resolve()
    for entry in registry.live:
        path = registry.path_of(entry)
        assert verify_model(path, registry) == entry
        assert path.stat().st_size < 10 * 1024 * 1024
    for entry in registry.models:
        if entry.retired:  # kept in git history only
            assert not registry.path_of(entry).exists()
    # a fresh machine needs the default detector and the one before it, each also with a
    # dynamic batch axis (batched inference across cameras), and v4 in int8 for road cameras;
    # nothing else ships
    assert [e.version for e in registry.live] == ["4", "5", "4+batch", "5+batch", "4+int8"]
    default = registry.default_entry()
    assert default.name == "civicwatch-street" and default.version == "5"
    assert default_model() == registry.path_of(default)
    shipped = {p.name for p in registry.root.glob("*.onnx")}
    assert shipped == {e.file for e in registry.live} | {"cover-v1.onnx"}
