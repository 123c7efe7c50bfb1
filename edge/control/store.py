"""The last applied config on disk, so that the edge starts without the server.

``<state_dir>/config.json`` is the config message as applied, written atomically (a
temporary file, fsync, rename, fsync of the directory): after a crash it is the old file or
the new one, never half of one. Zone files are written beside it (``zones/``) for the
worker and for people reading the disk; the message stays the one source.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from contracts.control import EdgeConfigMessage
from edge.control.validate import zone_file

logger = logging.getLogger(__name__)


def _atomic_write(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    partial.replace(path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


class ConfigStore:
    """The applied config of one edge, on disk."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.path = state_dir / "config.json"
        self.zones_dir = state_dir / "zones"

    def save(self, message: EdgeConfigMessage) -> None:
        """Keep ``message`` (and write its zone files) as the last applied config."""
        self.zones_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir.chmod(0o700)  # the stream URLs hold camera passwords
        self.write_zone_files(message)
        _atomic_write(self.path, message.to_json())
        keep = {zone_file(self.zones_dir, c).name for c in message.cameras}
        for old in self.zones_dir.glob("*.yaml"):
            if old.name not in keep:
                old.unlink(missing_ok=True)

    def write_zone_files(self, message: EdgeConfigMessage) -> None:
        self.zones_dir.mkdir(parents=True, exist_ok=True)
        for camera in message.cameras:
            target = zone_file(self.zones_dir, camera)
            if not target.exists() or target.read_text(encoding="utf-8") != camera.zones_yaml:
                _atomic_write(target, camera.zones_yaml.encode("utf-8"))

    def load_payload(self) -> bytes | None:
        """The kept message's bytes, or ``None`` when none was kept."""
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None
