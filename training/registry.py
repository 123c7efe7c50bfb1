"""The model registry (``models/registry.yaml``): which model files civicwatch may load.

The edge calls :func:`verify_model` before it loads a model: the file must be listed and its
SHA-256 must match, so a swapped or corrupted file is refused with a clear error.

Example:
    >>> from pathlib import Path
    >>> registry = load_registry(Path("models/registry.yaml"))  # doctest: +SKIP
    >>> entry = verify_model(default_model(), registry)  # doctest: +SKIP

The registry also names the project's default model (``default``: a listed file), the one the
edge's sample configs, the demo, the tests and the benchmarks use; :func:`default_model` reads it,
so switching the default is one line in ``models/registry.yaml`` (and the configs that name a
file, which ``tests/training/test_registry.py`` holds to it).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

logger = logging.getLogger(__name__)

DEFAULT_REGISTRY = Path(__file__).resolve().parent.parent / "models" / "registry.yaml"


class RegistryError(ValueError):
    """The registry file is missing or invalid."""


class ModelVerificationError(ValueError):
    """A model file is not in the registry, or its content does not match the registry."""


class RegistryEntry(BaseModel):
    """One registered model file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9._-]*$", description="Model name.")
    version: str = Field(min_length=1, pattern=r"^[0-9A-Za-z.+-]+$", description="Model version.")
    file: str = Field(min_length=1, description="Path of the file relative to the registry file.")
    sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the file, lower-case hex."
    )
    size_bytes: int = Field(gt=0, description="File size in bytes.")
    task: Literal["detect"] = Field(default="detect", description="What the model does.")
    format: Literal["onnx"] = Field(default="onnx", description="File format.")
    classes: list[str] = Field(min_length=1, description="Class names in class-id order.")
    imgsz: int = Field(ge=32, le=4096, description="Square network input size, pixels.")
    card: str | None = Field(default=None, description="Model card, relative to the registry.")
    description: str = Field(default="", description="One line about the model.")


class Registry(BaseModel):
    """The registry file's content."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = Field(default=1, description="Registry schema version.")
    default: str | None = Field(
        default=None, description="File of the project's default model (one of ``models``)."
    )
    models: list[RegistryEntry] = Field(description="Registered models.")
    _root: Path = PrivateAttr(default_factory=Path.cwd)

    @model_validator(mode="after")
    def _unique(self) -> Registry:
        seen: set[tuple[str, str]] = set()
        files: set[str] = set()
        for entry in self.models:
            key = (entry.name, entry.version)
            if key in seen:
                raise ValueError(f"model {entry.name} version {entry.version} is listed twice")
            if entry.file in files:
                raise ValueError(f"file {entry.file} is listed twice")
            seen.add(key)
            files.add(entry.file)
        if self.default is not None and self.default not in files:
            raise ValueError(f"default {self.default} is not a registered file")
        return self

    def default_entry(self) -> RegistryEntry:
        """The entry of the default model.

        Raises:
            ModelVerificationError: If the registry names no default.
        """
        entry = next((e for e in self.models if e.file == self.default), None)
        if entry is None:
            raise ModelVerificationError(f"the model registry at {self.root} names no default")
        return entry

    @property
    def root(self) -> Path:
        """Folder that entry files are relative to (the registry file's folder)."""
        return self._root

    def path_of(self, entry: RegistryEntry) -> Path:
        """Absolute path of an entry's file."""
        return (self._root / entry.file).resolve()

    def get(self, name: str, version: str | None = None) -> RegistryEntry:
        """The entry of model ``name`` (the last listed version unless ``version`` is given).

        Raises:
            ModelVerificationError: If no such model is registered.
        """
        matches = [
            e for e in self.models if e.name == name and (version is None or e.version == version)
        ]
        if not matches:
            known = ", ".join(f"{e.name}@{e.version}" for e in self.models) or "none"
            raise ModelVerificationError(
                f"model {name}{'@' + version if version else ''} is not registered "
                f"(registered: {known})"
            )
        return matches[-1]


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, lower-case hex."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_registry(path: Path = DEFAULT_REGISTRY) -> Registry:
    """Load and validate a registry file.

    Raises:
        RegistryError: If the file is missing, not YAML, or invalid (naming the field).
    """
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise RegistryError(f"model registry {path} not found") from None
    except yaml.YAMLError as exc:
        raise RegistryError(f"model registry {path} is not valid YAML: {exc}") from None
    try:
        registry = Registry.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise RegistryError(f"model registry {path} is invalid: {problems}") from None
    registry._root = path.resolve().parent
    return registry


def default_model(path: Path = DEFAULT_REGISTRY) -> Path:
    """Absolute path of the registry's default model file (which may be absent on disk).

    Raises:
        RegistryError: If the registry is missing or invalid.
        ModelVerificationError: If it names no default.
    """
    registry = load_registry(path)
    return registry.path_of(registry.default_entry())


def verify_model(path: Path, registry: Registry) -> RegistryEntry:
    """Check that ``path`` is a registered model file with the registered content.

    Args:
        path: The model file about to be loaded.
        registry: The loaded registry.

    Returns:
        The file's registry entry.

    Raises:
        ModelVerificationError: If the file does not exist, is not registered, or its size or
            SHA-256 differs from the registry's.
    """
    if not path.is_file():
        raise ModelVerificationError(f"model file {path} does not exist")
    resolved = path.resolve()
    entry = next((e for e in registry.models if registry.path_of(e) == resolved), None)
    if entry is None:
        listed = ", ".join(e.file for e in registry.models) or "none"
        raise ModelVerificationError(
            f"model file {path} is not in the registry at {registry.root} "
            f"(registered files: {listed})"
        )
    size = resolved.stat().st_size
    if size != entry.size_bytes:
        raise ModelVerificationError(
            f"model file {path} is {size} bytes but the registry lists {entry.size_bytes} for "
            f"{entry.name}@{entry.version}: wrong or corrupted file"
        )
    digest = sha256_file(resolved)
    if digest != entry.sha256:
        raise ModelVerificationError(
            f"model file {path} has sha256 {digest} but the registry lists {entry.sha256} for "
            f"{entry.name}@{entry.version}: wrong or corrupted file"
        )
    logger.info("verified model %s@%s (%s)", entry.name, entry.version, digest[:12])
    return entry


def upsert_entry(path: Path, entry: RegistryEntry) -> Registry:
    """Add ``entry`` to the registry file at ``path`` (replacing the same name and version).

    Creates the file if it does not exist; keeps its default. Returns the registry as written.
    """
    models: list[RegistryEntry] = []
    default: str | None = None
    if path.is_file():
        current = load_registry(path)
        default = current.default
        models = [
            e
            for e in current.models
            if (e.name, e.version) != (entry.name, entry.version) and e.file != entry.file
        ]
    registry = Registry(default=default, models=[*models, entry])
    header = (
        "# civicwatch model registry: the edge loads only files listed here, with this sha256.\n"
    )
    data = registry.model_dump(mode="json")
    if data["default"] is None:
        del data["default"]
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    path.write_text(header + body)
    return load_registry(path)


def entry_for(
    model: Path,
    registry_path: Path,
    *,
    name: str,
    version: str,
    classes: list[str],
    imgsz: int,
    card: Path | None = None,
    description: str = "",
) -> RegistryEntry:
    """Build the registry entry of a model file (hash and size computed from the file)."""
    root = registry_path.resolve().parent
    return RegistryEntry(
        name=name,
        version=version,
        file=model.resolve().relative_to(root).as_posix(),
        sha256=sha256_file(model),
        size_bytes=model.stat().st_size,
        classes=classes,
        imgsz=imgsz,
        card=card.resolve().relative_to(root).as_posix() if card is not None else None,
        description=description,
    )
