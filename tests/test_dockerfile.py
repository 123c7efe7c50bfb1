"""The edge images carry the registry and the models it ships, and nothing of the server.

The Dockerfile cannot be built here (no Docker engine); these checks read it as text.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def stage(name: str) -> str:
    """The text of one build stage, from its FROM line to the next."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    parts = re.split(r"^FROM ", text, flags=re.MULTILINE)
    for part in parts[1:]:
        if re.match(rf"\S+ AS {re.escape(name)}\s", part):
            return part
    raise AssertionError(f"no stage {name!r} in the Dockerfile")


def copied_models(text: str) -> set[str]:
    joined = text.replace("\\\n", " ")
    names: set[str] = set()
    for line in joined.splitlines():
        if line.startswith("COPY ") and "models/" in line:
            names.update(Path(p).name for p in line.split()[1:-1] if p.startswith("models/"))
    return names


def shipped_models() -> set[str]:
    names = {"__init__.py", "registry.yaml", "cover-registry.yaml"}
    for registry in ("registry.yaml", "cover-registry.yaml"):
        data = yaml.safe_load((ROOT / "models" / registry).read_text(encoding="utf-8"))
        for entry in data["models"]:
            if not entry.get("retired", False):
                names.update({entry["file"], entry["card"]})
    return names


def test_edge_files_are_the_registry_and_its_shipped_models() -> None:
    assert copied_models(stage("edge-app")) == shipped_models()


def test_every_shipped_model_is_in_the_tree() -> None:
    assert all((ROOT / "models" / name).is_file() for name in shipped_models())


def test_edge_images_copy_neither_server_nor_training() -> None:
    for name in ("edge-app", "edge", "edge-gpu"):
        text = stage(name)
        assert not re.search(r"^COPY (server|training)\b", text, flags=re.MULTILINE), name
        assert "COPY models " not in text and "COPY models/ " not in text, name
    for name in ("edge", "edge-gpu"):
        assert "COPY --from=edge-app /app" in stage(name)
