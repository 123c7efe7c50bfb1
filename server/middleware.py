"""Pure ASGI middleware: request body limits and security headers on every response.

:class:`BodyLimitMiddleware` runs before routing, authentication and parsing: a request
whose ``Content-Length`` exceeds its route's limit gets 413 without a byte being read,
and a body without a length (chunked) is counted as it streams and cut off at the limit,
so no handler ever buffers more than the limit. :class:`SecurityHeadersMiddleware` adds
``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer`` and
``X-Frame-Options: DENY`` to every response, the strict Content-Security-Policy of
:func:`content_security_policy` to every one that set none of its own (the API docs pages,
whose Swagger UI runs an inline script, excepted), and ``Cache-Control: no-store`` to
every one that set no caching of its own (the static files excepted).

Example:
    >>> app.add_middleware(BodyLimitMiddleware, default_limit=1 << 20, limits={"/login": 16384})
    ... # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)


class BodyTooLargeError(HTTPException):
    """Raised from ``receive`` when a streamed body passes its limit (FastAPI answers 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, detail=f"request body is larger than {limit} bytes")


async def _send_413(send: Send, limit: int) -> None:
    body = json.dumps({"detail": f"request body is larger than {limit} bytes"}).encode()
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
    """Refuse request bodies over a per-path limit (413), before anything reads them.

    Args:
        app: The wrapped application.
        default_limit: Bytes allowed on any path not in ``limits``.
        limits: Exact paths with their own (usually smaller) limit.
    """

    def __init__(self, app: ASGIApp, *, default_limit: int, limits: Mapping[str, int]) -> None:
        self.app = app
        self.default_limit = default_limit
        self.limits = dict(limits)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.get(scope["path"], self.default_limit)
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
                    await _send_413(send, limit)
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
                    raise BodyTooLargeError(limit)
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
            await _send_413(send, limit)


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
