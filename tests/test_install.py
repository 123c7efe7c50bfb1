"""A non-editable wheel install works from any directory.

Builds the wheel from a copy of the tree, installs it (without dependencies) into a fresh
virtual environment that borrows this environment's site-packages for the dependencies (a
``.pth`` line: offline and fast), and runs the command line from an unrelated directory. Any
module that finds its files relative to the source tree instead of through
``importlib.resources`` fails here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
CODE_PACKAGES = ("civicwatch", "contracts", "edge", "server", "training", "zones")
NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "var",
    "runs",
    "build",
    "dist",
    "datasets",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    ".hypothesis",
)


@dataclass(frozen=True)
class Installed:
    """The fresh environment, the wheel it holds, and a directory outside both trees."""

    venv: Path
    wheel: Path
    elsewhere: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``args[0]`` from the venv's bin folder in :attr:`elsewhere`."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CIVICWATCH_")}
        env.pop("PYTHONPATH", None)
        env["CIVICWATCH_DATABASE_URL"] = f"sqlite:///{self.elsewhere / 'check.db'}"
        return subprocess.run(
            [str(self.venv / "bin" / args[0]), *args[1:]],
            cwd=self.elsewhere,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def python(self, code: str) -> str:
        """Output of ``python -c code`` in the venv; fails the test on an error."""
        done = self.run("python", "-c", code)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout.strip()


def _call(*args: str, cwd: Path) -> None:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, f"{' '.join(args)}:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("install")
    source = root / "src"
    shutil.copytree(REPO, source, ignore=NOT_SOURCE, symlinks=True)
    dist = root / "dist"
    _call(
        sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
        "--no-index", "-w", str(dist), str(source), cwd=root,
    )  # fmt: skip
    (wheel,) = dist.glob("civicwatch-*.whl")
    shutil.rmtree(source)  # nothing can be found in the source tree any more
    venv = root / "venv"
    _call(sys.executable, "-m", "venv", "--without-pip", str(venv), cwd=root)
    _call(
        sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
        "-q", "--no-deps", "--no-index", str(wheel), cwd=root,
    )  # fmt: skip
    # the dependencies: this environment's site-packages, after the venv's own (a .pth line
    # only adds the folder: the editable install's finder in it is not loaded)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    purelib = venv / "lib" / version / "site-packages"
    (purelib / "_civicwatch_test_deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    return Installed(venv=venv, wheel=wheel, elsewhere=elsewhere)


def test_the_wheel_holds_the_code_and_the_package_data(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    tree = {
        p.relative_to(REPO).as_posix()
        for package in CODE_PACKAGES
        for p in (REPO / package).rglob("__init__.py")
    }
    assert sorted(tree - names) == []  # every package of the tree is in the wheel
    for data in (
        "civicwatch/models/registry.yaml",
        "civicwatch/models/civicwatch-street-v5.onnx",
        "civicwatch/models/civicwatch-street-v4.onnx",
        "civicwatch/models/cover-v1.onnx",
        "civicwatch/configs/zones/demo-cam.yaml",
        "civicwatch/configs/edge.yaml",
        "server/templates/queue.html",
        "server/templates/partials/review_labels.html",
        "server/static/app.css",
        "server/static/js/api.js",
        "server/i18n/catalog/common.zh-CN.json",
        "training/real_footage.yaml",
    ):
        assert data in names
    assert not any(name.startswith(("tests/", "models/", "configs/")) for name in names)
    retired = [n for n in names if n.startswith("civicwatch/models/civicwatch-street-v1")]
    assert retired == []


def test_the_packages_are_the_installed_ones(installed: Installed) -> None:
    where = installed.python(
        "import civicwatch, edge, server, zones, contracts, training\n"
        "for m in (civicwatch, edge, server, zones, contracts, training): print(m.__file__)"
    )
    for line in where.splitlines():
        assert Path(line).is_relative_to(installed.venv), line


def test_demo_help(installed: Installed) -> None:
    done = installed.run("civicwatch", "demo", "--help")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "sample clip" in done.stdout


def test_demo_defaults_come_from_the_package(installed: Installed) -> None:
    out = installed.python(
        "from civicwatch.demo import DemoConfig\n"
        "from edge.registry import load_registry, verify_model\n"
        "c = DemoConfig()\n"
        "assert c.model_registry is not None\n"
        "print(verify_model(c.model, load_registry(c.model_registry)).version)\n"
        "print(c.model)\nprint(c.zones)"
    )
    version, model, zones = out.splitlines()
    assert version == "5"
    assert Path(model).is_relative_to(installed.venv) and Path(zones).is_file()


def test_server_check(installed: Installed) -> None:
    done = installed.run("civicwatch", "server", "--check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "ok"
    templates = next(line for line in done.stdout.splitlines() if line.startswith("templates:"))
    assert Path(templates.split(": ", 1)[1]).is_relative_to(installed.venv)
    assert "migrations:" in done.stdout and "database: reachable" in done.stdout


def test_zones_validate_the_packaged_demo_zone_file(installed: Installed) -> None:
    zone_file = installed.python(
        "from importlib.resources import files\n"
        "print(files('civicwatch.configs').joinpath('zones', 'demo-cam.yaml'))"
    )
    assert Path(zone_file).is_relative_to(installed.venv)
    done = installed.run("civicwatch", "zones", "validate", zone_file)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(f"{zone_file}: ok")
