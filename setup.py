"""Build script: the metadata is in ``pyproject.toml``; this only lists the packages.

The code packages are found as usual; the repository's data folders ``models/`` and
``configs/`` (which stay at the top of the tree, see the design card) ship as the data-only
packages ``civicwatch.models`` and ``civicwatch.configs`` (each sub-folder a package of its
own), read with ``importlib.resources``. ``pyproject.toml`` alone cannot combine package
discovery with such a mapping; which files of them ship is its ``package-data``.
"""

from pathlib import Path

from setuptools import find_packages, setup

CODE = ["civicwatch", "civicwatch.*", "contracts*", "edge*", "zones*", "server*", "training*"]
DATA = {"civicwatch.models": "models", "civicwatch.configs": "configs"}


def data_packages(package: str, folder: str) -> list[str]:
    """``package`` and one package per sub-folder of ``folder`` (those that exist here)."""
    root = Path(folder)
    if not root.is_dir():
        return []
    subfolders = sorted(p for p in root.rglob("*") if p.is_dir() and p.name != "__pycache__")
    return [package, *(".".join([package, *p.relative_to(root).parts]) for p in subfolders)]


setup(
    packages=[
        *find_packages(include=CODE),
        *(name for package, folder in DATA.items() for name in data_packages(package, folder)),
    ],
    package_dir=DATA,
)
