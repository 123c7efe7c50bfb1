"""Evidence bytes keyed by content hash, behind one interface (:class:`EvidenceBackend`).

Two backends: :class:`EvidenceStore`, files on disk under ``<root>/ab/cd/<sha256>``
(the default), and :class:`server.evidence_s3.S3EvidenceStore`, objects in an
S3-compatible store (``settings.evidence_backend: s3``). :func:`open_evidence_store`
builds the configured one.

Only a validated hash ever becomes part of a path or key. Both backends check the hash
of the bytes on write (never trusting the caller) and on read. Files are written to a
temporary name in the target directory, fsynced and renamed into place, so a crash
leaves either the whole file or nothing under the final name. Inside
:meth:`EvidenceStore.deferred_sync` (the ingest's group commit) the fsyncs and renames of
a thread's writes wait for the end of the block and run there one after another, each
directory fsynced once.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from server.core.config import Settings

logger = logging.getLogger(__name__)

SHA256_PATTERN = r"^[0-9a-f]{64}$"
_SHA256 = re.compile(SHA256_PATTERN)


class EvidenceHashMismatchError(ValueError):
    """The bytes do not hash to the key they were sent under."""


class EvidenceMissingError(FileNotFoundError):
    """No bytes are stored under the hash."""


class EvidenceCorruptError(ValueError):
    """Stored bytes no longer hash to their key; the message names where they are."""


class EvidenceBackendError(RuntimeError):
    """The store cannot be used (bucket missing, credentials refused, unreachable)."""


def corrupt(where: str, actual: str, sha256: str) -> EvidenceCorruptError:
    """The error for bytes at ``where`` that hash to ``actual`` instead of ``sha256``."""
    return EvidenceCorruptError(f"evidence file {where} hashes to {actual}, expected {sha256}")


class EvidenceBackend(Protocol):
    """What every user of the evidence store needs: ingest, API, chain checks, retention."""

    def where(self, sha256: str) -> str:
        """Where the bytes of ``sha256`` live (a path or URL), for messages."""
        ...

    def prepare(self) -> None:
        """Check at start-up that the store is usable (create the directory, find the bucket).

        Raises:
            EvidenceBackendError: It is not (the message says why).
        """
        ...

    def exists(self, sha256: str) -> bool: ...

    def write(self, sha256: str, data: bytes) -> object:
        """Store ``data`` durably under ``sha256`` after checking its hash; no-op if stored."""
        ...

    def read(self, sha256: str) -> bytes:
        """The bytes, checked against the hash.

        Raises:
            EvidenceMissingError: Nothing is stored under ``sha256``.
            EvidenceCorruptError: The stored bytes hash to something else.
        """
        ...

    def delete(self, sha256: str) -> None:
        """Remove the bytes; absent bytes are not an error."""
        ...


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
    """A content-addressed directory of evidence files (an :class:`EvidenceBackend`).

    Args:
        root: Directory that holds the files; created on first write.

    Example:
        >>> store = EvidenceStore(Path("/tmp/evidence"))  # doctest: +SKIP
        >>> path = store.write(hashlib.sha256(b"x").hexdigest(), b"x")  # doctest: +SKIP
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._local = threading.local()

    @contextmanager
    def deferred_sync(self) -> Iterator[None]:
        """Hold back this thread's fsyncs and renames until the block ends (batched fsyncs).

        :meth:`write` inside the block writes the temporary file only; when the block ends
        (also by an exception) every file is fsynced and renamed into place and each
        directory fsynced once, so on return all of them are durable: leave the block
        before committing what refers to them. A crash inside leaves only temporary files.
        """
        if getattr(self._local, "pending", None) is not None:
            raise RuntimeError("deferred_sync is already active on this thread")
        pending: list[tuple[Path, Path]] = []
        self._local.pending = pending
        try:
            yield
        finally:
            self._local.pending = None
            self._settle(pending)

    @staticmethod
    def _settle(pending: list[tuple[Path, Path]]) -> None:
        """fsync and rename each ``(temporary, final)`` pair, then fsync their directories."""
        for tmp, path in pending:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            tmp.replace(path)
        for directory in dict.fromkeys(path.parent for _, path in pending):
            _fsync_dir(directory)

    def path_for(self, sha256: str) -> Path:
        """Where the bytes of ``sha256`` live; raises ``ValueError`` for a malformed hash."""
        check_sha256(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def where(self, sha256: str) -> str:
        return str(self.path_for(sha256))

    def prepare(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EvidenceBackendError(f"evidence directory {self.root}: {exc}") from exc

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
        pending: list[tuple[Path, Path]] | None = getattr(self._local, "pending", None)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                if pending is None:
                    os.fsync(handle.fileno())
            tmp.chmod(0o644)
            if pending is not None:
                pending.append((tmp, path))  # fsynced and renamed when the block ends
                return path
            tmp.replace(path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)
        return path

    def read(self, sha256: str) -> bytes:
        """The stored bytes, checked against the hash.

        Raises:
            EvidenceMissingError: No file (a ``FileNotFoundError``).
            EvidenceCorruptError: The file's bytes hash to something else.
        """
        path = self.path_for(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise EvidenceMissingError(f"evidence file {path} is missing") from exc
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise corrupt(str(path), actual, sha256)
        return data

    def delete(self, sha256: str) -> None:
        self.path_for(sha256).unlink(missing_ok=True)


def open_evidence_store(settings: Settings) -> EvidenceBackend:
    """The evidence store ``settings.evidence_backend`` names.

    Raises:
        EvidenceBackendError: ``s3`` is chosen but boto3 (the ``s3`` extra) is missing or
            its credentials are not in the environment.
    """
    if settings.evidence_backend == "s3":
        try:
            from server.evidence_s3 import S3EvidenceStore
        except ImportError as exc:
            raise EvidenceBackendError(
                f"evidence_backend s3 needs boto3 ({exc}): pip install 'civicwatch[s3]'"
            ) from exc
        return S3EvidenceStore.from_settings(settings.s3)
    return EvidenceStore(settings.evidence_dir)
