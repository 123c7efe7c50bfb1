"""What is actually failing: database writes, free disk space and a stalled ingest.

``/healthz`` reports these checks (HTTP 503 when one fails), and the MQTT ingest asks
:class:`StorageGuard` before each try of a message: while the evidence, dead-letter or
database disk is below ``health.min_free_mb`` the message waits, unacknowledged (the
broker keeps it and everything after it), and the ingest resumes on its own once the
space is back, instead of failing the message into a dead-letter folder on the same
full disk.

Example:
    >>> guard = StorageGuard(settings)  # doctest: +SKIP
    >>> guard.wait_for_space(stopping)  # returns at once while there is room
    True
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from server.core.config import Settings
from server.core.db import utcnow
from server.tables import HealthProbe

logger = logging.getLogger(__name__)

SPACE_POLL_S: Final[float] = 1.0
"""How often a waiting ingest looks at the free space again."""


@dataclass(frozen=True, slots=True)
class DiskCheck:
    """Free space of one watched directory's file system.

    Attributes:
        name: What is stored there (``evidence``, ``dead_letter``, ``database``).
        path: The directory (or its nearest existing parent) that was measured.
        free_bytes: Bytes available to the server; -1 when it could not be measured.
        min_free_bytes: The threshold under which it fails.
    """

    name: str
    path: Path
    free_bytes: int
    min_free_bytes: int

    @property
    def ok(self) -> bool:
        return self.free_bytes >= self.min_free_bytes

    def problem(self) -> str:
        if self.free_bytes < 0:
            return f"{self.name} disk at {self.path}: free space cannot be measured"
        return (
            f"{self.name} disk at {self.path}: {self.free_bytes // (1024 * 1024)} MiB free, "
            f"below {self.min_free_bytes // (1024 * 1024)} MiB"
        )


def watched_dirs(settings: Settings) -> list[tuple[str, Path]]:
    """The directories the server writes to: evidence, dead letters and the database."""
    dirs = [("evidence", settings.evidence_dir), ("dead_letter", settings.dead_letter_dir)]
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        dirs.append(("database", Path(str(url.database)).parent))
    elif settings.health.database_dir is not None:
        dirs.append(("database", settings.health.database_dir))
    return dirs


def _existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def disk_checks(settings: Settings) -> list[DiskCheck]:
    """Free space of every watched directory's file system, against ``min_free_mb``."""
    minimum = settings.health.min_free_mb * 1024 * 1024
    checks = []
    for name, directory in watched_dirs(settings):
        path = _existing(directory)
        try:
            free = shutil.disk_usage(path).free
        except OSError:
            logger.exception("cannot measure the free space of %s", path)
            free = -1
        checks.append(DiskCheck(name=name, path=path, free_bytes=free, min_free_bytes=minimum))
    return checks


def database_write_problem(session_factory: sessionmaker[Session]) -> str | None:
    """Rewrite the health probe row and commit; ``None`` when it worked, else why not."""
    try:
        with session_factory() as session, session.begin():
            probe = session.get(HealthProbe, 1)
            if probe is None:
                session.add(HealthProbe(id=1, checked_at=utcnow()))
            else:
                probe.checked_at = utcnow()
    except Exception as exc:
        logger.exception("database write check failed")
        return f"database does not take writes: {type(exc).__name__}"
    return None


class StorageGuard:
    """Holds the ingest while a disk it writes to is short of space; reports stalls.

    Args:
        settings: Directories and thresholds (``health.min_free_mb``, ``ingest_stall_s``).
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._message_since: float | None = None
        self._waiting_for_space: list[str] = []

    def low_space(self) -> list[DiskCheck]:
        """The watched disks under the threshold now."""
        return [check for check in disk_checks(self._settings) if not check.ok]

    @contextmanager
    def handling(self) -> Iterator[None]:
        """Mark one message as being handled (for the stall report) for the block."""
        with self._lock:
            self._message_since = time.monotonic()
        try:
            yield
        finally:
            with self._lock:
                self._message_since = None
                self._waiting_for_space = []

    def wait_for_space(self, stopping: threading.Event) -> bool:
        """Return once every watched disk has room; ``False`` when ``stopping`` was set first."""
        low = self.low_space()
        if not low:
            return True
        problems = [check.problem() for check in low]
        logger.error(
            "ingest paused, messages stay unacknowledged at the broker: %s", "; ".join(problems)
        )
        with self._lock:
            self._waiting_for_space = problems
        while low:
            if stopping.wait(SPACE_POLL_S):
                return False
            low = self.low_space()
        with self._lock:
            self._waiting_for_space = []
        logger.warning("disk space is back; ingest resumes")
        return True

    def stall_problems(self) -> list[str]:
        """Why the ingest is not moving, if it has held one message too long."""
        with self._lock:
            since = self._message_since
            waiting = list(self._waiting_for_space)
        if since is None:
            return []
        held_s = time.monotonic() - since
        if held_s < self._settings.health.ingest_stall_s:
            return []
        reason = f" waiting for disk space ({'; '.join(waiting)})" if waiting else ""
        return [f"ingest stalled: one message held for {held_s:.0f} s{reason}"]
