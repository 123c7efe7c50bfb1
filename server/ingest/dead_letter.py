"""Dead letters: a message that keeps failing unexpectedly is kept on disk, then acknowledged."""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from pathlib import Path

from contracts.chain import canonical_json
from server.core.db import utcnow
from server.ingest.results import IngestOutcome


def write_dead_letter(directory: Path, topic: str, payload: bytes, outcome: IngestOutcome) -> Path:
    """Store a message that could not be ingested, durably (temp file, fsync, rename).

    The file is JSON: topic, payload (base64), the failure code and detail.

    Args:
        directory: Where dead letters go (created if missing).
        topic: The message's topic.
        payload: Its bytes.
        outcome: Its last failure.

    Returns:
        The file written.

    Raises:
        OSError: The file could not be written; nothing is left behind.
    """
    directory.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(topic.encode("utf-8", "replace") + b"\0" + payload).hexdigest()
    path = directory / f"{utcnow():%Y%m%dT%H%M%S}-{digest[:16]}.json"
    document = {
        "topic": topic,
        "payload_base64": base64.b64encode(payload).decode("ascii"),
        "code": outcome.code,
        "detail": outcome.detail,
    }
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=".dead-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(canonical_json(document))
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp_name).replace(path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path
