"""Pure ASGI middleware: request body limits and security headers on every response.

:class:`BodyLimitMiddleware` runs before routing, authentication and parsing: a request
whose ``Content-Length`` exceeds its route's limit gets 413 without a byte being read,
and a body without a length (chunked) is counted as it streams and cut off at the limit,
so no handler ever buffers more than the limit. Every route has 1 MiB
(``http_limits.body_bytes``) but those :func:`route_body_limits` names: the login forms take
less, a disposal report (``POST /api/v1/cases/{id}/disposals``) takes its photos
(``lifecycle.max_photos`` x ``lifecycle.max_photo_bytes`` and the form around them, the route
then checks each photo), a clip chunk (``PUT /api/v1/evidence/clips/{sha256}``) takes
``http_limits.clip_chunk_bytes`` (the edge's largest ``clip_upload.chunk_bytes``).
:class:`SecurityHeadersMiddleware` adds
``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer`` and
``X-Frame-Options: DENY`` to every response, the strict Content-Security-Policy of
:func:`content_security_policy` to every one that set none of its own (the API docs pages,
whose Swagger UI runs an inline script, excepted), and ``Cache-Control: no-store`` to
every one that set no caching of its own (the static files excepted).

Example:
    >>> app.add_middleware(
    ...     BodyLimitMiddleware, default_limit=1 << 20, routes=route_body_limits(settings)
    ... )  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.core.config import Settings
from server.schemas import API_PREFIX

logger = logging.getLogger(__name__)

DISPOSAL_FORM_OVERHEAD_BYTES: Final[int] = 64 * 1024
"""Room beside the photos of a disposal report: the note (2000 characters), each part's
boundary and headers (file names included)."""


@dataclass(frozen=True, slots=True)
class RouteLimit:
    """The body limit of one route (a method and a path pattern), with what sets it.

    Attributes:
        method: The HTTP method (``POST``).
        path: Matches the whole request path (``/api/v1/cases/[^/]+/disposals``).
        limit: Bytes allowed.
        reason: The settings the limit comes from, told in the 413 answer.
    """

    method: str
    path: re.Pattern[str]
    limit: int
    reason: str

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and self.path.fullmatch(path) is not None


def route_body_limits(settings: Settings) -> tuple[RouteLimit, ...]:
    """The routes whose bodies may be larger than ``http_limits.body_bytes``.

    Example:
        >>> from server.core.config import load_settings
        >>> [r.limit for r in route_body_limits(load_settings(None))]
        [104923136, 8388608]
    """
    lifecycle = settings.lifecycle
    return (
        RouteLimit(
            method="POST",
            path=re.compile(rf"{re.escape(API_PREFIX)}/cases/[^/]+/disposals"),
            limit=lifecycle.max_photos * lifecycle.max_photo_bytes + DISPOSAL_FORM_OVERHEAD_BYTES,
            reason=(
                f"a disposal takes at most {lifecycle.max_photos} photos, each at most "
                f"{lifecycle.max_photo_bytes} bytes (lifecycle.max_photos, "
                "lifecycle.max_photo_bytes), and its note"
            ),
        ),
        RouteLimit(
            method="PUT",
            path=re.compile(rf"{re.escape(API_PREFIX)}/evidence/clips/[^/]+"),
            limit=settings.http_limits.clip_chunk_bytes,
            reason="a clip chunk (http_limits.clip_chunk_bytes; the edge sends smaller ones)",
        ),
    )


def _too_large(limit: int, reason: str | None) -> str:
    return f"request body is larger than {limit} bytes" + (f": {reason}" if reason else "")


class BodyTooLargeError(HTTPException):
    """Raised from ``receive`` when a streamed body passes its limit (FastAPI answers 413)."""

    def __init__(self, limit: int, reason: str | None) -> None:
        super().__init__(413, detail=_too_large(limit, reason))


async def _send_413(send: Send, limit: int, reason: str | None) -> None:
    body = json.dumps({"detail": _too_large(limit, reason)}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """Refuse request bodies over a per-route limit (413), before anything reads them.

    Args:
        app: The wrapped application.
        default_limit: Bytes allowed on any route not in ``limits`` or ``routes``.
        limits: Exact paths (any method) with their own limit.
        routes: Further routes with their own limit (the first that matches).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        default_limit: int,
        limits: Mapping[str, int] | None = None,
        routes: Sequence[RouteLimit] = (),
    ) -> None:
        self.app = app
        self.default_limit = default_limit
        self.limits = dict(limits or {})
        self.routes = tuple(routes)

    def limit_of(self, method: str, path: str) -> tuple[int, str | None]:
        """The bytes allowed to a request and the reason the 413 gives (``None``: the default)."""
        if path in self.limits:
            return self.limits[path], None
        for route in self.routes:
            if route.matches(method, path):
                return route.limit, route.reason
        return self.default_limit, None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, reason = self.limit_of(scope["method"], scope["path"])
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = limit + 1
                if declared > limit:
                    logger.warning(
                        "refused a %s-byte body on %s (limit %d)", declared, scope["path"], limit
                    )
                    await _send_413(send, limit, reason)
                    return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    logger.warning(
                        "cut off a streamed body on %s at %d bytes", scope["path"], limit
                    )
                    raise BodyTooLargeError(limit, reason)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracking_send)
        except BodyTooLargeError:
            if started:
                raise
            await _send_413(send, limit, reason)


def content_security_policy(*, img_origins: tuple[str, ...] = ()) -> str:
    """The pages' policy: everything from this server only; no inline script or style, no eval.

    Args:
        img_origins: Further origins images may come from (the map's tile server).
    """
    img = " ".join(("'self'", *img_origins))
    return (
        f"default-src 'self'; img-src {img}; media-src 'self'; script-src 'self'; "
        "style-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


class SecurityHeadersMiddleware:
    """Add ``nosniff``, ``Referrer-Policy``, framing refusal, the CSP and ``no-store``.

    Args:
        app: The wrapped application.
        cacheable_prefixes: Paths whose own caching is left alone when they set none.
        csp: The Content-Security-Policy of responses that set none (``None``: no CSP).
        csp_exempt_prefixes: Paths that get no policy from here.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        cacheable_prefixes: tuple[str, ...] = (),
        csp: str | None = None,
        csp_exempt_prefixes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.cacheable_prefixes = cacheable_prefixes
        self.csp = csp.encode() if csp is not None else None
        self.csp_exempt_prefixes = csp_exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = scope["path"].startswith(self.cacheable_prefixes)
        csp = None if scope["path"].startswith(self.csp_exempt_prefixes) else self.csp

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                ]
                if csp is not None:
                    extra.append((b"content-security-policy", csp))
                if not cacheable:
                    extra.append((b"cache-control", b"no-store"))
                headers.extend((k, v) for k, v in extra if k not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
