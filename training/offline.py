"""Make ultralytics run with no network access at all.

ultralytics decides at import time whether it is online (``ultralytics.utils.ONLINE``) and where
its settings and fonts live (``YOLO_CONFIG_DIR``); unless told otherwise it resolves DNS names,
downloads ``Arial.ttf``, may ``pip install`` missing requirements and sends usage events.
:func:`configure_offline` must therefore run before the first ``import ultralytics``: it sets

* ``YOLO_OFFLINE=1`` (``is_online()`` returns False without a DNS lookup, which also turns off
  usage events, Sentry, update checks and URL probes),
* ``YOLO_AUTOINSTALL=false`` (no ``pip install`` of missing requirements),
* ``YOLO_CONFIG_DIR`` to a project folder holding ``settings.json`` and the fonts,

and copies a local TrueType font to ``$YOLO_CONFIG_DIR/Ultralytics/Arial.ttf`` and
``Arial.Unicode.ttf`` so that plotting never downloads one.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

DEFAULT_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
"""Debian's ``fonts-dejavu-core`` font, used in place of ultralytics' Arial."""

FONT_NAMES = ("Arial.ttf", "Arial.Unicode.ttf")

_ENV = {"YOLO_OFFLINE": "1", "YOLO_AUTOINSTALL": "false", "YOLO_VERBOSE": "true"}


class OfflineSetupError(RuntimeError):
    """ultralytics cannot be made to run offline as asked."""


def configure_offline(config_dir: Path, font: Path = DEFAULT_FONT) -> Path:
    """Prepare the environment so that ultralytics makes no network attempt.

    Args:
        config_dir: Folder for ultralytics' settings and fonts (created if missing).
        font: A local TrueType font to install as ultralytics' ``Arial.ttf``.

    Returns:
        The ``Ultralytics`` folder inside ``config_dir``.

    Raises:
        OfflineSetupError: If the font is missing, or ultralytics was already imported with
            another configuration (its online check has then already run).
    """
    config_dir = config_dir.resolve()
    if "ultralytics" in sys.modules:
        same = os.environ.get("YOLO_CONFIG_DIR") == str(config_dir) and all(
            os.environ.get(k) == v for k, v in _ENV.items()
        )
        if not same:
            raise OfflineSetupError(
                "ultralytics was imported before configure_offline(); call it first "
                f"(YOLO_CONFIG_DIR is {os.environ.get('YOLO_CONFIG_DIR')!r}, "
                f"wanted {str(config_dir)!r})"
            )
    ultra_dir = config_dir / "Ultralytics"
    ultra_dir.mkdir(parents=True, exist_ok=True)
    for name in FONT_NAMES:
        target = ultra_dir / name
        if not target.exists():
            if not font.is_file():
                raise OfflineSetupError(
                    f"font {font} not found: install fonts-dejavu-core or pass another "
                    "TrueType font"
                )
            shutil.copyfile(font, target)
    os.environ.update(_ENV)
    os.environ["YOLO_CONFIG_DIR"] = str(config_dir)
    logger.debug("ultralytics offline, config dir %s", ultra_dir)
    return ultra_dir


def apply_settings(runs_dir: Path, datasets_dir: Path) -> None:
    """Turn off ultralytics' syncing and integrations in its settings file.

    Call after :func:`configure_offline`; imports ultralytics.

    Args:
        runs_dir: Where ultralytics may put runs by default.
        datasets_dir: Where ultralytics looks for relative dataset paths.
    """
    from ultralytics.utils import ONLINE, SETTINGS

    if ONLINE:
        raise OfflineSetupError("ultralytics believes it is online; call configure_offline() first")
    SETTINGS.update(  # type: ignore[no-untyped-call]
        {
            "sync": False,
            "clearml": False,
            "comet": False,
            "dvc": False,
            "mlflow": False,
            "raytune": False,
            "tensorboard": False,
            "wandb": False,
            "vscode_msg": False,
            "openvino_msg": False,
            "runs_dir": str(runs_dir.resolve()),
            "datasets_dir": str(datasets_dir.resolve()),
        }
    )
