"""Clips from the spool to the server over HTTP, in chunks, resumed and retried until taken.

The server (``PUT /api/v1/evidence/clips/{sha256}``) appends each chunk at its offset and
answers 409 with what it holds when an offset does not follow on: the uploader continues
from there, so a broken upload never starts over. It logs in as the edge's HTTP account
(role ``edge``, named like the edge; credentials from the environment) and keeps the token
until the server refuses it. A clip leaves the spool only when the server says it has it
whole (``complete``); until then it waits on disk, across restarts, retried with a doubling
back-off. Only the standard library's HTTP client is used.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from contracts.events import Sha256, UtcDatetime
from contracts.ids import Identifier
from edge.clips.config import ClipUploadConfig

logger = logging.getLogger(__name__)

CLIPS_PATH = "/api/v1/evidence/clips"
LOGIN_PATH = "/api/v1/auth/login"


class ClipMeta(BaseModel):
    """What the spool keeps beside each clip (``<sha256>.json``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    edge_id: Identifier
    camera_id: Identifier
    event_id: str
    sha256: Sha256
    byte_size: int
    captured_at: UtcDatetime
    duration_s: float
    packets: int
    late_start_s: float


class UploadError(RuntimeError):
    """This attempt failed; the clip stays in the spool (the message says why)."""


class UploadRefusedError(UploadError):
    """The server refused the clip for good (a hash or format it will never take)."""


@dataclass(frozen=True, slots=True)
class UploadAnswer:
    received: int
    complete: bool


class ClipUploader:
    """Uploads spooled clips to one server."""

    def __init__(self, config: ClipUploadConfig) -> None:
        self.config = config
        self.base = config.url.rstrip("/")
        self._token: str | None = None

    def _credentials(self) -> tuple[str, str]:
        username = os.environ.get(self.config.username_env)
        password = os.environ.get(self.config.password_env)
        if not username or not password:
            raise UploadError(
                f"no HTTP login: set {self.config.username_env} and {self.config.password_env}"
            )
        return username, password

    def _request(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, dict[str, object]]:
        request = urllib.request.Request(
            self.base + path, data=body, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_s) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                answer = json.loads(exc.read() or b"{}")
            except ValueError:
                answer = {}
            return exc.code, answer if isinstance(answer, dict) else {}
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise UploadError(f"server {self.base} not reached: {exc}") from None

    def _login(self) -> str:
        username, password = self._credentials()
        status, answer = self._request(
            "POST",
            LOGIN_PATH,
            json.dumps({"username": username, "password": password}).encode(),
            {"Content-Type": "application/json"},
        )
        token = answer.get("token")
        if status != 200 or not isinstance(token, str):
            raise UploadError(f"login as {username} refused ({status}: {answer.get('detail')})")
        return token

    def _put(self, meta: ClipMeta, chunk: bytes, offset: int) -> tuple[int, dict[str, object]]:
        if self._token is None:
            self._token = self._login()
        query = urllib.parse.urlencode(
            {
                "event_id": meta.event_id,
                "offset": offset,
                "total": meta.byte_size,
                "captured_at": meta.captured_at.isoformat(),
            }
        )
        status, answer = self._request(
            "PUT",
            f"{CLIPS_PATH}/{meta.sha256}?{query}",
            chunk,
            {
                "Authorization": f"Bearer {self._token}",
                "Content-Type": "application/octet-stream",
            },
        )
        if status == 401:  # the token expired: log in again once
            self._token = None
            self._token = self._login()
            return self._put(meta, chunk, offset)
        return status, answer

    def upload(self, meta: ClipMeta, path: Path) -> None:
        """Send the clip ``path`` whole (from wherever the server's copy ends).

        Raises:
            UploadError: Not now (unreachable, the case not there yet, ...): try later.
            UploadRefusedError: Never (the server says the bytes are wrong).
        """
        data = path.read_bytes()
        if len(data) != meta.byte_size:
            raise UploadRefusedError(
                f"{path} has {len(data)} bytes, its record says {meta.byte_size}"
            )
        offset = 0
        for _ in range(len(data) // self.config.chunk_bytes + 8):
            chunk = data[offset : offset + self.config.chunk_bytes]
            status, answer = self._put(meta, chunk, offset)
            received = answer.get("received")
            detail = answer.get("detail")
            if status == 409 and isinstance(detail, dict):
                held = detail.get("received")
                if isinstance(held, int) and 0 <= held <= len(data):
                    offset = held  # resume where the server's copy ends
                    continue
            if status == 422:
                raise UploadRefusedError(f"the server refuses clip {meta.sha256[:12]}: {detail}")
            if status != 200 or not isinstance(received, int):
                raise UploadError(f"upload of clip {meta.sha256[:12]} answered {status}: {detail}")
            if answer.get("complete") is True:
                return
            offset = received
        raise UploadError(f"upload of clip {meta.sha256[:12]} made no progress")
