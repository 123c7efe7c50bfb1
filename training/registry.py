"""Writing the model registry: entries for new model files, published into the registry file.

Reading and verifying the registry is the edge's (:mod:`edge.registry`), so an edge runs
without the training stack; this module re-exports those names for training code and adds
what publishing needs (:func:`entry_for`, :func:`upsert_entry`).

Example:
    >>> entry = entry_for(model, DEFAULT_REGISTRY, name="civicwatch-street", version="6",
    ...                   classes=list(CLASSES), imgsz=576)  # doctest: +SKIP
    >>> upsert_entry(DEFAULT_REGISTRY, entry)  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import yaml

from edge.registry import (
    ModelVerificationError,
    Registry,
    RegistryEntry,
    RegistryError,
    default_model,
    default_registry_path,
    load_registry,
    sha256_file,
    verify_model,
)

__all__ = [
    "DEFAULT_REGISTRY",
    "ModelVerificationError",
    "Registry",
    "RegistryEntry",
    "RegistryError",
    "default_model",
    "entry_for",
    "load_registry",
    "sha256_file",
    "upsert_entry",
    "verify_model",
]

DEFAULT_REGISTRY = default_registry_path()
"""The registry that publishing writes to (the packaged ``models/registry.yaml``: in an editable
install, the repository's own file; ``CIVICWATCH_MODEL_REGISTRY`` points elsewhere)."""


def upsert_entry(path: Path, entry: RegistryEntry, *, make_default: bool = False) -> Registry:
    """Add ``entry`` to the registry file at ``path`` (replacing the same name and version).

    Creates the file if it does not exist; keeps its default unless ``make_default`` (then
    ``entry`` becomes the default). Returns the registry as written.
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
    registry = Registry(default=entry.file if make_default else default, models=[*models, entry])
    header = (
        "# civicwatch model registry: the edge loads only files listed here, with this sha256.\n"
        '# Entries with "retired: true" are no longer shipped (file and card in git history '
        "only).\n"
    )
    data = registry.model_dump(mode="json")
    if data["default"] is None:
        del data["default"]
    for model in data["models"]:
        if not model["retired"]:
            del model["retired"]  # written only where it says something
        if model.get("gate") is None:
            model.pop("gate", None)
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
    gate: Path | None = None,
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
        gate=gate.resolve().relative_to(root).as_posix() if gate is not None else None,
    )
