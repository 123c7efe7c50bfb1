"""Evidence files against the ``evidence`` rows: missing, corrupt and orphan files.

Three things can be wrong between the content-addressed store and the database:

* *missing*: a row whose bytes are not stored (a case points at evidence that is gone);
* *corrupt*: stored bytes that do not hash to their name (or, in the quick pass, whose
  size is not the row's ``byte_size``);
* *orphan*: a file no row names (a crash between the file's rename and the commit, or a
  file put there by hand). Orphans are reported, never deleted: that is retention's job
  (:mod:`server.retention`).

Two passes, both read-only: the *quick* one (existence and size, one ``ab/`` directory
bucket at a time, so memory stays flat for a large store) runs in the background at
server start (:class:`IntegrityMonitor`, shown on ``/healthz``); the *full* one also
hashes every file (``civicwatch server --check-evidence``). Missing and corrupt evidence
is logged at ERROR, orphans at WARNING, each with examples.

A store that is not a directory (an object store) has no quick pass; the full pass
checks every row through its ``exists`` / ``read`` and cannot list orphans.

Example:
    >>> report = check_evidence(factory, store, full=True, now=utcnow())  # doctest: +SKIP
    >>> report.ok, report.missing.count  # doctest: +SKIP
    (True, 0)
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Final, Literal, Protocol

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from server.core.db import utcnow
from server.evidence_store import EvidenceStore
from server.tables import Evidence

logger = logging.getLogger(__name__)

EXAMPLES: Final[int] = 5
"""How many examples of each kind a report keeps."""

HASH_CHUNK: Final[int] = 1024 * 1024
"""Bytes read at a time while hashing a file."""

_HEX: Final[str] = "0123456789abcdef"
_BUCKETS: Final[tuple[str, ...]] = tuple(a + b for a in _HEX for b in _HEX)

IntegrityMode = Literal["quick", "full"]


class CheckInterruptedError(RuntimeError):
    """The pass was abandoned because the server is stopping."""


class HashStore(Protocol):
    """What the check needs of a store that is not a directory (an object store)."""

    def exists(self, sha256: str) -> bool: ...

    def read(self, sha256: str) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Finding:
    """How many of one kind of problem, and a few examples (hash or path, and why)."""

    count: int = 0
    examples: tuple[str, ...] = ()


@dataclass(slots=True)
class _Tally:
    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, example: str) -> None:
        self.count += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(example)

    def freeze(self) -> Finding:
        return Finding(count=self.count, examples=tuple(self.examples))


@dataclass(frozen=True, slots=True)
class IntegrityReport:
    """What one pass found.

    Attributes:
        mode: ``quick`` (existence and size) or ``full`` (also every file's hash).
        rows: ``evidence`` rows looked at.
        files: Files found in the store; ``None`` when the store cannot be listed.
        missing: Rows whose bytes are not stored.
        corrupt: Files that do not hash to their name (quick: whose size is wrong).
        orphans: Files no row names; ``None`` when the store cannot be listed.
        checked_at: When the pass ended (UTC).
        duration_s: How long it took.
    """

    mode: IntegrityMode
    rows: int
    files: int | None
    missing: Finding
    corrupt: Finding
    orphans: Finding | None
    checked_at: datetime
    duration_s: float

    @property
    def ok(self) -> bool:
        """No evidence is missing or corrupt (orphans are retention's business)."""
        return self.missing.count == 0 and self.corrupt.count == 0

    def summary(self) -> str:
        orphans = "not listable" if self.orphans is None else str(self.orphans.count)
        files = "?" if self.files is None else str(self.files)
        return (
            f"{self.mode} pass: {self.rows} rows, {files} files: {self.missing.count} missing, "
            f"{self.corrupt.count} corrupt, {orphans} orphans ({self.duration_s:.1f} s)"
        )

    def problems(self) -> list[str]:
        """One line per kind of problem found, with its examples."""
        kinds = [("missing", self.missing), ("corrupt", self.corrupt)]
        if self.orphans is not None:
            kinds.append(("orphan", self.orphans))
        return [
            f"{finding.count} {name} evidence file(s), e.g. {'; '.join(finding.examples)}"
            for name, finding in kinds
            if finding.count
        ]

    def log(self) -> None:
        """Missing and corrupt at ERROR, orphans at WARNING, a clean store at INFO."""
        for name, finding in (("missing", self.missing), ("corrupt", self.corrupt)):
            if finding.count:
                logger.error(
                    "evidence check (%s): %d %s evidence file(s), e.g. %s",
                    self.mode,
                    finding.count,
                    name,
                    "; ".join(finding.examples),
                )
        if self.orphans is not None and self.orphans.count:
            logger.warning(
                "evidence check (%s): %d file(s) no evidence row names (kept; retention "
                "decides), e.g. %s",
                self.mode,
                self.orphans.count,
                "; ".join(self.orphans.examples),
            )
        level = logging.INFO if self.ok else logging.ERROR
        logger.log(level, "evidence check: %s", self.summary())


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _bucket_files(store: EvidenceStore, bucket: str, orphans: _Tally) -> dict[str, Path]:
    """The evidence files under ``<root>/<bucket>/``; misplaced or odd names are orphans."""
    found: dict[str, Path] = {}
    top = store.root / bucket
    if not top.is_dir():
        return found
    for entry in sorted(os.scandir(top), key=lambda e: e.name):
        inner = [entry] if not entry.is_dir() else sorted(os.scandir(entry), key=lambda e: e.name)
        for item in inner:
            path = Path(item.path)
            if item.name.startswith("."):  # a write in progress (temp name, then rename)
                continue
            try:
                placed = item.is_file() and store.path_for(item.name) == path
            except ValueError:  # not a sha256 name
                placed = False
            if placed:
                found[item.name] = path
            else:
                orphans.add(f"{path} (not an evidence file name or place)")
    return found


def _bucket_rows(session: Session, bucket: str) -> dict[str, int]:
    """``sha256 -> byte_size`` of the rows whose hash starts with ``bucket``."""
    rows = session.execute(
        select(Evidence.sha256, Evidence.byte_size).where(
            Evidence.sha256 >= bucket, Evidence.sha256 < bucket + "g"
        )
    )
    return {row[0]: row[1] for row in rows}


@dataclass(slots=True)
class _Pass:
    full: bool
    rows: int = 0
    files: int = 0
    missing: _Tally = field(default_factory=_Tally)
    corrupt: _Tally = field(default_factory=_Tally)
    orphans: _Tally = field(default_factory=_Tally)

    def compare(self, rows: dict[str, int], files: dict[str, Path]) -> None:
        self.rows += len(rows)
        self.files += len(files)
        for sha in sorted(rows.keys() - files.keys()):
            self.missing.add(f"{sha} (no file)")
        for sha in sorted(files.keys() - rows.keys()):
            self.orphans.add(f"{files[sha]} (no row)")
        for sha in sorted(rows.keys() & files.keys()):
            self.check_file(sha, files[sha], rows[sha])

    def check_file(self, sha: str, path: Path, expected_size: int) -> None:
        try:
            size = path.stat().st_size
            if size != expected_size:
                self.corrupt.add(f"{path} ({size} bytes, the row says {expected_size})")
            elif self.full and (actual := _hash_file(path)) != sha:
                self.corrupt.add(f"{path} (hashes to {actual})")
        except FileNotFoundError:
            self.missing.add(f"{sha} (gone while checking)")
        except OSError as exc:
            self.corrupt.add(f"{path} (unreadable: {exc.strerror or exc})")


def _check_directory(
    session_factory: sessionmaker[Session],
    store: EvidenceStore,
    run: _Pass,
    stopping: threading.Event | None,
) -> bool:
    """One bucket at a time; ``False`` when ``stopping`` interrupted it."""
    known = set(_BUCKETS)
    if store.root.is_dir():
        for entry in sorted(os.scandir(store.root), key=lambda e: e.name):
            if entry.name not in known and not entry.name.startswith("."):
                run.orphans.add(f"{entry.path} (not an evidence bucket)")
    for bucket in _BUCKETS:
        if stopping is not None and stopping.is_set():
            return False
        with session_factory() as session:
            rows = _bucket_rows(session, bucket)
        run.compare(rows, _bucket_files(store, bucket, run.orphans))
    return True


def _check_rows(session_factory: sessionmaker[Session], store: HashStore, run: _Pass) -> None:
    """A store that cannot be listed: every row through ``exists`` / ``read``."""
    for bucket in _BUCKETS:
        with session_factory() as session:
            rows = _bucket_rows(session, bucket)
        run.rows += len(rows)
        for sha in sorted(rows):
            try:
                if not run.full:
                    if not store.exists(sha):
                        run.missing.add(f"{sha} (not in the store)")
                    continue
                data = store.read(sha)
            except FileNotFoundError:
                run.missing.add(f"{sha} (not in the store)")
                continue
            except ValueError as exc:  # the store's own hash check failed
                run.corrupt.add(f"{sha} ({exc})")
                continue
            actual = hashlib.sha256(data).hexdigest()
            if actual != sha:
                run.corrupt.add(f"{sha} (hashes to {actual})")


def check_evidence(
    session_factory: sessionmaker[Session],
    store: EvidenceStore | HashStore,
    *,
    full: bool,
    now: datetime | None = None,
    stopping: threading.Event | None = None,
) -> IntegrityReport:
    """Compare the store with the ``evidence`` rows; deletes nothing.

    Args:
        session_factory: The server's database.
        store: The evidence store.
        full: Hash every file (else existence and size only).
        now: The report's time (default: when it ends).
        stopping: Set to abandon the pass (a server shutting down).

    Raises:
        SQLAlchemyError: The database cannot be read.
        CheckInterruptedError: ``stopping`` was set.
    """
    started = time.monotonic()
    run = _Pass(full=full)
    listable = isinstance(store, EvidenceStore)
    if isinstance(store, EvidenceStore):
        if not _check_directory(session_factory, store, run, stopping):
            raise CheckInterruptedError("the evidence check was interrupted")
    else:
        _check_rows(session_factory, store, run)
    return IntegrityReport(
        mode="full" if full else "quick",
        rows=run.rows,
        files=run.files if listable else None,
        missing=run.missing.freeze(),
        corrupt=run.corrupt.freeze(),
        orphans=run.orphans.freeze() if listable else None,
        checked_at=now or utcnow(),
        duration_s=time.monotonic() - started,
    )


MonitorState = Literal["pending", "checking", "done", "failed", "not_checked"]


@dataclass(frozen=True, slots=True)
class IntegrityStatus:
    """The start-up check as ``/healthz`` shows it."""

    state: MonitorState
    report: IntegrityReport | None = None
    detail: str = ""


class IntegrityMonitor:
    """Runs the quick check in the background at server start and keeps its report."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._status = IntegrityStatus(state="pending")
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def status(self) -> IntegrityStatus:
        with self._lock:
            return self._status

    def _set(self, status: IntegrityStatus) -> None:
        with self._lock:
            self._status = status

    def start(
        self, session_factory: sessionmaker[Session], store: EvidenceStore | HashStore
    ) -> None:
        """Start the quick pass (a directory store only; others: ``--check-evidence``)."""
        if not isinstance(store, EvidenceStore):
            detail = "the store is not a directory: run civicwatch server --check-evidence"
            logger.info("evidence check at start skipped: %s", detail)
            self._set(IntegrityStatus(state="not_checked", detail=detail))
            return
        self._set(IntegrityStatus(state="checking"))
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._run, args=(session_factory, store), name="evidence-check", daemon=True
        )
        self._thread.start()

    def _run(self, session_factory: sessionmaker[Session], store: EvidenceStore) -> None:
        try:
            report = check_evidence(session_factory, store, full=False, stopping=self._stopping)
        except CheckInterruptedError:
            self._set(IntegrityStatus(state="not_checked", detail="interrupted by shutdown"))
            return
        except (SQLAlchemyError, OSError) as exc:
            logger.exception("evidence check at start failed")
            self._set(IntegrityStatus(state="failed", detail=f"{type(exc).__name__}: {exc}"))
            return
        report.log()
        self._set(IntegrityStatus(state="done", report=report))

    def stop(self) -> None:
        """Abandon a pass still running and wait for it (shutdown)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None


def monitor_of(app_state: object) -> IntegrityMonitor | None:
    """The monitor :func:`server.main.create_app` put on ``app.state``, if any."""
    monitor = getattr(app_state, "evidence_integrity", None)
    return monitor if isinstance(monitor, IntegrityMonitor) else None


__all__ = [
    "CheckInterruptedError",
    "Finding",
    "HashStore",
    "IntegrityMonitor",
    "IntegrityReport",
    "IntegrityStatus",
    "check_evidence",
    "monitor_of",
]
