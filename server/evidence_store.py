"""Evidence bytes on disk, keyed by content hash: ``<root>/ab/cd/<sha256>``.

Only a validated hash ever becomes part of a path. Files are written to a temporary
name in the target directory, fsynced and renamed into place, so a crash leaves either
the whole file or nothing under the final name.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from pathlib import Path

logger = logging.getLogger(__name__)

SHA256_PATTERN = r"^[0-9a-f]{64}$"
_SHA256 = re.compile(SHA256_PATTERN)


class EvidenceHashMismatchError(ValueError):
    """The bytes do not hash to the key they were sent under."""


def check_sha256(value: str) -> str:
    """Return ``value`` if it is 64 lowercase hex characters, else raise ``ValueError``."""
    if not _SHA256.fullmatch(value):
        raise ValueError(f"{value[:80]!r} is not a sha256 (64 lowercase hex characters)")
    return value


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class EvidenceStore:
    """A content-addressed directory of evidence files.

    Args:
        root: Directory that holds the files; created on first write.

    Example:
        >>> store = EvidenceStore(Path("/tmp/evidence"))  # doctest: +SKIP
        >>> path = store.write(hashlib.sha256(b"x").hexdigest(), b"x")  # doctest: +SKIP
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str) -> Path:
        """Where the bytes of ``sha256`` live; raises ``ValueError`` for a malformed hash."""
        check_sha256(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def write(self, sha256: str, data: bytes) -> Path:
        """Store ``data`` under ``sha256`` durably, after checking the hash.

        Writing bytes that are already stored is a no-op.

        Raises:
            ValueError: ``sha256`` is malformed.
            EvidenceHashMismatchError: ``data`` does not hash to ``sha256``.
        """
        path = self.path_for(sha256)
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise EvidenceHashMismatchError(f"payload hashes to {actual}, not {sha256}")
        if path.is_file() and path.stat().st_size == len(data):
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{sha256[:16]}.", suffix=".tmp")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            tmp.chmod(0o644)
            tmp.replace(path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)
        return path

    def read(self, sha256: str) -> bytes:
        """The stored bytes; raises ``FileNotFoundError`` when absent."""
        return self.path_for(sha256).read_bytes()
