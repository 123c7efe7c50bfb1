"""CSRF protection of every state change made with the session cookie (double submit).

A browser sends the session cookie with any request to the server, also one a foreign
page makes it send, so a request that changes state with that cookie must prove that
it comes from one of the server's own pages. Three checks, in a pure ASGI middleware
that runs before routing and before any body is read:

* A ``POST``, ``PUT``, ``PATCH`` or ``DELETE`` that carries the session cookie (and no
  ``Authorization: Bearer`` header, which API clients send and a foreign page cannot)
  must carry ``X-CSRF-Token`` equal to the ``civicwatch_csrf`` cookie, and that value
  must be the one derived from the session token (:func:`csrf_token_for`). The cookie is
  readable by the pages' scripts (``server/static/js/api.js`` copies it into the
  header); a foreign page can neither read it nor set the header.
* Any unsafe request that a browser marks as cross-site (``Sec-Fetch-Site:
  cross-site``, which every current browser sends) is refused as well, cookie or not (it
  covers the login form and a demo server without logins).
* The token is bound to the session: a cookie planted by a sibling subdomain does not
  match a session it does not know.

Example:
    >>> app.add_middleware(CsrfMiddleware, exempt_paths=("/login",))  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterable
from typing import Final

from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

logger = logging.getLogger(__name__)

CSRF_COOKIE: Final[str] = "civicwatch_csrf"
"""The cookie the pages' scripts read the token from (not HttpOnly, SameSite=Strict)."""
CSRF_HEADER: Final[str] = "x-csrf-token"
"""The header a state change made with the session cookie must carry."""
SESSION_COOKIE: Final[str] = "civicwatch_session"
"""The session cookie (``server.auth.COOKIE_NAME``; repeated here so this stays a leaf)."""
SAFE_METHODS: Final[frozenset[str]] = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_DOMAIN: Final[bytes] = b"civicwatch-csrf-v1\x00"


def csrf_token_for(session_token: str) -> str:
    """The CSRF token of a session: a digest of the session token (not the stored one)."""
    return hashlib.sha256(_DOMAIN + session_token.encode("utf-8", "replace")).hexdigest()


def csrf_problem(
    *,
    method: str,
    headers: dict[str, str],
    cookies: dict[str, str],
) -> str | None:
    """Why an unsafe request must be refused, or ``None`` when it may pass.

    Args:
        method: The HTTP method.
        headers: Request headers, lower-case names.
        cookies: Request cookies.
    """
    if method.upper() in SAFE_METHODS:
        return None
    if headers.get("sec-fetch-site", "") == "cross-site":
        return "a cross-site request may not change anything"
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return None  # an API client: no ambient credential is used
    session = cookies.get(SESSION_COOKIE)
    if not session:
        return None  # no ambient credential to abuse
    sent = headers.get(CSRF_HEADER, "")
    if not sent:
        return "the X-CSRF-Token header is missing (the pages send it through js/api.js)"
    expected = csrf_token_for(session)
    cookie = cookies.get(CSRF_COOKIE, "")
    if not (hmac.compare_digest(sent, cookie) and hmac.compare_digest(sent, expected)):
        return "the X-CSRF-Token header does not match this session (reload the page)"
    return None


class CsrfMiddleware:
    """Refuse (403) unsafe requests that fail :func:`csrf_problem`, before routing.

    Args:
        app: The wrapped application.
        exempt_paths: Exact paths not checked for the token (the login form, which
            starts a session; the cross-site check still applies).
        sessions: Whether the session cookie grants anything (``auth_enabled``); without
            logins a left-over cookie is ignored and only the cross-site check applies.
    """

    def __init__(
        self, app: ASGIApp, *, exempt_paths: Iterable[str] = (), sessions: bool = True
    ) -> None:
        self.app = app
        self.exempt_paths = frozenset(exempt_paths)
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in scope["headers"]
        }
        cookies = cookie_parser(headers.get("cookie", ""))
        if scope["path"] in self.exempt_paths or not self.sessions:
            cookies.pop(SESSION_COOKIE, None)  # the cross-site check only
        problem = csrf_problem(method=scope["method"], headers=headers, cookies=cookies)
        if problem is None:
            await self.app(scope, receive, send)
            return
        logger.warning("refused %s %s: %s", scope["method"], scope["path"], problem)
        body = json.dumps({"detail": f"CSRF check failed: {problem}"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
