"""The one-way layers: ``lint-imports`` holds the tree to the contracts in pyproject.toml.

The same check runs in ``make test``; here it makes pytest fail too when a layer is crossed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

# (source, must not import) pairs the design card requires; the contracts may forbid more.
REQUIRED = [
    ("contracts", "edge"),
    ("contracts", "server"),
    ("contracts", "training"),
    ("contracts", "civicwatch"),
    ("zones", "edge"),
    ("zones", "server"),
    ("zones", "training"),
    ("zones", "civicwatch"),
    ("edge", "server"),
    ("edge", "training"),
    ("server", "edge"),
    ("server", "training"),
    ("training", "server"),
]


def _lint_imports(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if not LINT_IMPORTS.is_file():
        pytest.fail(f"{LINT_IMPORTS} is missing: install the dev extra (make test does)")
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_tree_keeps_its_layers() -> None:
    done = _lint_imports(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_the_contracts_forbid_what_the_design_forbids() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    forbidden = {
        (source, target)
        for contract in config["contracts"]
        if contract["type"] == "forbidden"
        for source in contract["source_modules"]
        for target in contract["forbidden_modules"]
    }
    assert [pair for pair in REQUIRED if pair not in forbidden] == []
    layers = next(c["layers"] for c in config["contracts"] if c["type"] == "layers")
    assert layers[0] == "civicwatch"
    assert [name.strip() for name in layers[2].split("|")] == ["edge", "server"]  # independent


@pytest.mark.parametrize(
    ("body", "broken"),
    [
        ("", False),  # the empty case: nothing imported, nothing broken
        ("from high import thing\n", True),
        ("def f() -> None:\n    import high.sub  # lazily, inside a function\n", True),
    ],
)
def test_a_crossed_layer_fails_the_check(tmp_path: Path, body: str, broken: bool) -> None:
    for package in ("low", "high", "high/sub"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("thing = 1\n")
    (tmp_path / "low" / "mod.py").write_text(body)
    (tmp_path / "pyproject.toml").write_text(
        "[tool.importlinter]\n"
        'root_packages = ["low", "high"]\n\n'
        "[[tool.importlinter.contracts]]\n"
        'name = "low imports no high"\n'
        'type = "forbidden"\n'
        'source_modules = ["low"]\n'
        'forbidden_modules = ["high"]\n'
    )
    done = _lint_imports(tmp_path)
    assert (done.returncode != 0) is broken, done.stdout + done.stderr
    assert ("BROKEN" in done.stdout) is broken
