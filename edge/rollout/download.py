"""Fetch a model file from the server: resumable, checked, never half-used.

The bytes go to ``<models_dir>/<sha256>.part``; a transfer cut halfway leaves that file, and
the next attempt asks only for the rest (``Range: bytes=<size>-``). Only when the size and
sha256 match the assignment is the file renamed to ``<sha256>.onnx`` (atomic on one file
system); a file that does not match is deleted and the error says so.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from contracts.model_rollout import AssignedModel

logger = logging.getLogger(__name__)

CHUNK = 1 << 20


class ModelFetchError(RuntimeError):
    """The model could not be fetched or did not verify; the message says why."""


@dataclass(frozen=True, slots=True)
class Fetched:
    """A fetched, verified model file and how it came."""

    path: Path
    resumed_from: int
    attempts: int


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _transfer(url: str, token: str, part: Path, size: int, timeout_s: float) -> int:
    """One HTTP attempt, appending to ``part``; returns the offset it resumed from."""
    have = part.stat().st_size if part.exists() else 0
    if have > size:
        part.unlink()
        have = 0
    if have == size:
        return have
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        if have and response.status != 206:
            have = 0  # the server sent the whole file: start over
        with part.open("ab" if have else "wb") as out:
            while chunk := response.read(CHUNK):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    return have


def fetch_model(
    server_url: str,
    token: str,
    model: AssignedModel,
    models_dir: Path,
    *,
    attempts: int = 3,
    timeout_s: float = 30.0,
    backoff_s: float = 1.0,
) -> Fetched:
    """Fetch and verify ``model``; an already verified file is used as it is.

    Raises:
        ModelFetchError: Refused (401/403/404), still failing after ``attempts``, or the
            bytes do not match the size or sha256 (the partial file is removed).
    """
    models_dir.mkdir(parents=True, exist_ok=True)
    final = models_dir / f"{model.sha256}.onnx"
    if (
        final.is_file()
        and final.stat().st_size == model.size_bytes
        and _sha256(final) == model.sha256
    ):
        return Fetched(final, model.size_bytes, 0)
    part = models_dir / f"{model.sha256}.part"
    url = server_url.rstrip("/") + model.path
    resumed = 0
    last: Exception | None = None
    for attempt in range(1, attempts + 1):
        try:
            resumed = _transfer(url, token, part, model.size_bytes, timeout_s)
            break
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403, 404):
                raise ModelFetchError(
                    f"the server refused {model.name}@{model.version}: HTTP {exc.code} "
                    f"{exc.reason} (check the edge account and that the model is registered)"
                ) from exc
            last = exc
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            last = exc
        logger.warning(
            "fetching %s@%s: attempt %d failed (%s); %d bytes kept to resume",
            model.name,
            model.version,
            attempt,
            last,
            part.stat().st_size if part.exists() else 0,
        )
        time.sleep(backoff_s * attempt)
    else:
        raise ModelFetchError(
            f"could not fetch {model.name}@{model.version} from {url} after {attempts} "
            f"attempts: {last}"
        )
    got = part.stat().st_size
    if got != model.size_bytes:
        part.unlink(missing_ok=True)
        raise ModelFetchError(
            f"{model.name}@{model.version}: got {got} bytes, the assignment says "
            f"{model.size_bytes}; discarded"
        )
    actual = _sha256(part)
    if actual != model.sha256:
        part.unlink(missing_ok=True)
        raise ModelFetchError(
            f"{model.name}@{model.version}: the file's sha256 {actual[:16]}… does not match the "
            f"assignment's {model.sha256[:16]}…; discarded, the running model stays"
        )
    part.replace(final)
    logger.info("fetched %s@%s (%d bytes, resumed at %d)", model.name, model.version, got, resumed)
    return Fetched(final, resumed, attempt)
