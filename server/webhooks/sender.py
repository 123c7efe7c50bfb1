"""One delivery attempt over HTTP: the signed POST and what came of it.

Redirects are not followed (a receiver that moved must be re-registered) and proxies from
the environment are not used (receivers are the city's own systems). Neither the secret
nor the signature is ever logged.
"""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

from server.webhooks.signing import sign

logger = logging.getLogger(__name__)

USER_AGENT: Final[str] = "civicwatch-webhooks/1"
MAX_ERROR_CHARS: Final[int] = 300
_READ_LIMIT: Final[int] = 64 * 1024


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A claimed delivery, ready to send."""

    delivery_id: int
    lease: str
    """The claim token this replica holds the delivery under."""
    url: str
    secret: str = field(repr=False)
    kind: str
    body: bytes


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What one attempt got: an HTTP status, or an error without one."""

    status_code: int | None
    error: str | None
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: object, **_kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def host_of(url: str) -> str:
    """Scheme, host and port of ``url``, for logs (no path, query or credentials)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}" + (f":{parts.port}" if parts.port else "")


def headers_for(outgoing: Outgoing, *, timestamp: int) -> dict[str, str]:
    """The request headers of an attempt sent at ``timestamp`` (Unix seconds)."""
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "X-Civicwatch-Event": outgoing.kind,
        "X-Civicwatch-Delivery": str(outgoing.delivery_id),
        "X-Civicwatch-Timestamp": str(timestamp),
        "X-Civicwatch-Signature": sign(
            secret=outgoing.secret, timestamp=timestamp, body=outgoing.body
        ),
    }


def _short(text: str) -> str:
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def send(outgoing: Outgoing, *, timeout_s: float) -> AttemptResult:
    """POST the delivery once; never raises for network or HTTP failures."""
    request = urllib.request.Request(
        outgoing.url,
        data=outgoing.body,
        method="POST",
        headers=headers_for(outgoing, timestamp=int(time.time())),
    )
    started = time.monotonic()
    status: int | None = None
    error: str | None = None
    try:
        with _OPENER.open(request, timeout=timeout_s) as response:
            status = int(response.status)
            response.read(_READ_LIMIT)
    except urllib.error.HTTPError as exc:
        status = exc.code
        error = _short(f"HTTP {exc.code} {exc.reason}")
        exc.close()
    except urllib.error.URLError as exc:
        error = _short(f"{type(exc.reason).__name__}: {exc.reason}")
    except (OSError, ValueError) as exc:  # timeouts, resets, a malformed response
        error = _short(f"{type(exc).__name__}: {exc}")
    duration = time.monotonic() - started
    if status is not None and not 200 <= status < 300 and error is None:
        error = f"HTTP {status}"
    logger.debug(
        "webhook delivery %d to %s: %s in %.3f s",
        outgoing.delivery_id,
        host_of(outgoing.url),
        status if status is not None else error,
        duration,
    )
    return AttemptResult(status_code=status, error=error, duration_s=duration)
