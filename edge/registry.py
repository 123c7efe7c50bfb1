"""The model registry (``models/registry.yaml``): which model files civicwatch may load.

The edge calls :func:`verify_model` before it loads a model: the file must be listed, not
retired, and its SHA-256 must match, so a swapped or corrupted file is refused with a clear
error. This module only reads the registry; writing and publishing entries is training's job
(``training.registry``), on top of this one.

The registry ships inside the package as ``civicwatch.models`` (the repository's ``models/``
folder, mapped in ``pyproject.toml``), so :func:`default_registry_path` finds it in a wheel
install, an editable install and a checkout alike; ``CIVICWATCH_MODEL_REGISTRY`` points
elsewhere.

Example:
    >>> registry = load_registry()  # doctest: +SKIP
    >>> entry = verify_model(default_model(), registry)  # doctest: +SKIP

The registry also names the project's default model (``default``: a listed, live file), the one
the edge's sample configs, the demo, the tests and the benchmarks use; :func:`default_model`
reads it, so switching the default is one line in ``models/registry.yaml`` (and the configs that
name a file, which ``tests/training/test_registry.py`` holds to it). Entries marked
``retired: true`` record models that are no longer shipped (their files and cards stay in git
history): they cannot be verified, loaded or made the default.
"""

from __future__ import annotations

import hashlib
import logging
import os
from importlib.resources import files
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from contracts.yamlconfig import ConfigError, load_yaml_model

logger = logging.getLogger(__name__)

REGISTRY_ENV = "CIVICWATCH_MODEL_REGISTRY"
"""Environment variable naming a registry file to use instead of the packaged one."""

MODELS_PACKAGE = "civicwatch.models"
"""Import name of the packaged ``models/`` folder (data only)."""


class RegistryError(ValueError):
    """The registry file is missing or invalid."""


class ModelVerificationError(ValueError):
    """A model file is not in the registry, or its content does not match the registry."""


def package_file(package: str, *parts: str) -> Path:
    """Path of a data file shipped inside ``package`` (found with ``importlib.resources``).

    Args:
        package: Import name of the package holding the file, e.g. ``"civicwatch.configs"``.
        *parts: Path of the file inside the package, one folder per argument.

    Returns:
        The file's path (which may not exist: callers report a missing file in their terms).

    Raises:
        FileNotFoundError: If the package is not installed, or is not on a file system (a zip
            import), where no path can be given.
    """
    try:
        resource = files(package).joinpath(*parts)
    except ModuleNotFoundError:
        raise FileNotFoundError(
            f"package data {package} is not installed: install civicwatch "
            "(pip install . or pip install -e .)"
        ) from None
    if not isinstance(resource, Path):
        raise FileNotFoundError(f"package data {package} is not on a file system ({resource})")
    return resource


def default_registry_path() -> Path:
    """The registry file to use: ``$CIVICWATCH_MODEL_REGISTRY``, else the packaged one."""
    configured = os.environ.get(REGISTRY_ENV)
    if configured:
        return Path(configured)
    return package_file(MODELS_PACKAGE, "registry.yaml")


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
    gate: str | None = Field(
        default=None,
        description=(
            "The `civicwatch models gate` report (JSON) the model passed or failed against the "
            "model it would replace, relative to the registry; written by `publish --gate-report`."
        ),
    )
    description: str = Field(default="", description="One line about the model.")
    retired: bool = Field(
        default=False,
        description=(
            "No longer shipped: the file and its card are kept in git history only; the entry "
            "records what the model was and cannot be verified, loaded or made the default."
        ),
    )


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
        files_seen: set[str] = set()
        for entry in self.models:
            key = (entry.name, entry.version)
            if key in seen:
                raise ValueError(f"model {entry.name} version {entry.version} is listed twice")
            if entry.file in files_seen:
                raise ValueError(f"file {entry.file} is listed twice")
            seen.add(key)
            files_seen.add(entry.file)
        if self.default is not None:
            default = next((e for e in self.models if e.file == self.default), None)
            if default is None:
                raise ValueError(f"default {self.default} is not a registered file")
            if default.retired:
                raise ValueError(f"default {self.default} is retired")
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

    @property
    def live(self) -> list[RegistryEntry]:
        """The entries that are not retired (the shipped models), in listed order."""
        return [e for e in self.models if not e.retired]

    def path_of(self, entry: RegistryEntry) -> Path:
        """Absolute path of an entry's file."""
        return (self._root / entry.file).resolve()

    def get(self, name: str, version: str | None = None) -> RegistryEntry:
        """The entry of model ``name`` (the last live version unless ``version`` is given).

        Raises:
            ModelVerificationError: If no such model is registered.
        """
        candidates = self.models if version is not None else self.live
        matches = [
            e for e in candidates if e.name == name and (version is None or e.version == version)
        ]
        if not matches:
            known = ", ".join(f"{e.name}@{e.version}" for e in self.live) or "none"
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


def load_registry(path: Path | None = None) -> Registry:
    """Load and validate a registry file.

    Args:
        path: The registry file; :func:`default_registry_path` when omitted.

    Raises:
        RegistryError: If the file is missing, not YAML, or invalid (naming the field).
    """
    path = default_registry_path() if path is None else path
    try:
        registry = load_yaml_model(path, Registry, expected="a mapping with models")
    except ConfigError as exc:
        if isinstance(exc.__cause__, FileNotFoundError):
            raise RegistryError(f"model registry {path} not found") from None
        problems = "\n".join(exc.problems)
        raise RegistryError(f"model registry {path} is invalid:\n{problems}") from None
    registry._root = path.resolve().parent
    return registry


def default_model(path: Path | None = None) -> Path:
    """Absolute path of the registry's default model file (which may be absent on disk).

    Args:
        path: The registry file; :func:`default_registry_path` when omitted.

    Raises:
        RegistryError: If the registry is missing or invalid.
        ModelVerificationError: If it names no default.
    """
    registry = load_registry(path)
    return registry.path_of(registry.default_entry())


def verify_model(path: Path, registry: Registry) -> RegistryEntry:
    """Check that ``path`` is a live registered model file with the registered content.

    Args:
        path: The model file about to be loaded.
        registry: The loaded registry.

    Returns:
        The file's registry entry.

    Raises:
        ModelVerificationError: If the file does not exist, is not registered, is retired, or
            its size or SHA-256 differs from the registry's.
    """
    resolved = path.resolve()
    entry = next((e for e in registry.models if registry.path_of(e) == resolved), None)
    if entry is not None and entry.retired:
        raise ModelVerificationError(
            f"model file {path} is {entry.name}@{entry.version}, which the registry at "
            f"{registry.root} lists as retired (no longer shipped; use one of: "
            f"{', '.join(e.file for e in registry.live) or 'none'})"
        )
    if not path.is_file():
        raise ModelVerificationError(f"model file {path} does not exist")
    if entry is None:
        listed = ", ".join(e.file for e in registry.live) or "none"
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
