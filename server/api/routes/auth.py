"""Login and logout for the API (bearer token) and the review page (session cookie).

Both logins go through :func:`check_login`: admission by :class:`server.login_guard.LoginGuard`
(concurrent hashing, per-address attempts and failures), then the account's own lockout.
"""

from __future__ import annotations

import logging
from datetime import datetime

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from server import auth
from server.api.deps import (
    LoginGuardDep,
    PrincipalDep,
    SessionDep,
    StateDep,
    client_address,
    request_is_https,
)
from server.core.db import utcnow
from server.csrf import CSRF_COOKIE, csrf_token_for
from server.login_guard import LoginGuard, LoginThrottledError
from server.state import ServerState
from server.tables import User, UserRole

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/auth", tags=["auth"])


class LoginIn(BaseModel):
    """User name and password."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class LoginOut(BaseModel):
    """A login: send ``Authorization: Bearer <token>`` (the cookie is set as well)."""

    token: str
    username: str
    role: UserRole
    expires_at: datetime


class MeOut(BaseModel):
    """Who the request is made as."""

    username: str
    role: UserRole
    authenticated: bool = Field(description="False when the server runs without auth.")


class LoginRefusedError(Exception):
    """A login failed; ``status_code`` 401 (wrong) or 429 (throttled or locked)."""

    def __init__(self, status_code: int, detail: str, retry_after_s: int | None = None) -> None:
        self.status_code = status_code
        self.detail = detail
        self.headers = {"Retry-After": str(retry_after_s)} if retry_after_s is not None else {}
        super().__init__(detail)


def check_login(
    request: Request,
    *,
    session: Session,
    state: ServerState,
    guard: LoginGuard,
    username: str,
    password: str,
) -> User:
    """The user whose password this is; every outcome is committed (failure counters too).

    Raises:
        LoginRefusedError: Wrong credentials (401), or throttled or locked (429).
    """
    address = client_address(request, state.settings.trusted_proxies)
    try:
        with guard.attempt(address) as attempt:
            now = utcnow()
            try:
                user = auth.authenticate(
                    session,
                    username=username,
                    password=password,
                    now=now,
                    limits=state.settings.login,
                )
            finally:
                session.commit()
            if user is None:
                attempt.failed()
    except LoginThrottledError as exc:
        logger.warning("login from %s for %r refused: %s", address, username[:64], exc)
        raise LoginRefusedError(429, str(exc), exc.retry_after_s) from exc
    except auth.AccountLockedError as exc:
        logger.warning("login from %s refused: %s", address, exc)
        raise LoginRefusedError(
            429, f"too many failed logins; try again in {exc.retry_after_s} s", exc.retry_after_s
        ) from exc
    if user is None:
        logger.warning("failed login from %s for user name %r", address, username[:64])
        raise LoginRefusedError(401, "wrong user name or password")
    return user


def set_session_cookie(
    request: Request, response: Response, token: str, *, state: ServerState
) -> None:
    """The HttpOnly, SameSite=Strict session cookie (``Secure`` per ``cookie_secure``) and
    its CSRF cookie (:func:`set_csrf_cookie`)."""
    settings = state.settings
    response.set_cookie(
        auth.COOKIE_NAME,
        token,
        max_age=settings.auth_token_ttl_s,
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure(https=request_is_https(request, settings.trusted_proxies)),
        path="/",
    )
    set_csrf_cookie(request, response, token, state=state)


def set_csrf_cookie(
    request: Request, response: Response, token: str, *, state: ServerState
) -> None:
    """The session's CSRF token (:mod:`server.csrf`): SameSite=Strict, readable by the pages'
    scripts, which copy it into ``X-CSRF-Token``."""
    settings = state.settings
    response.set_cookie(
        CSRF_COOKIE,
        csrf_token_for(token),
        max_age=settings.auth_token_ttl_s,
        httponly=False,
        samesite="strict",
        secure=settings.cookie_secure(https=request_is_https(request, settings.trusted_proxies)),
        path="/",
    )


@router.post(
    "/login",
    response_model=LoginOut,
    responses={
        401: {"description": "Wrong user name or password, or a disabled account."},
        413: {"description": "The request body is too large."},
        429: {"description": "Too many attempts, or the account is locked (see Retry-After)."},
    },
    summary="Log in",
)
def login(
    body: LoginIn,
    request: Request,
    response: Response,
    session: SessionDep,
    state: StateDep,
    guard: LoginGuardDep,
) -> LoginOut:
    """Check the password and issue a token (also set as an HttpOnly session cookie)."""
    try:
        user = check_login(
            request,
            session=session,
            state=state,
            guard=guard,
            username=body.username,
            password=body.password,
        )
    except LoginRefusedError as exc:
        raise HTTPException(exc.status_code, detail=exc.detail, headers=exc.headers) from exc
    ttl = state.settings.auth_token_ttl_s
    token, expires_at = auth.issue_token(session, user=user, now=utcnow(), ttl_s=ttl)
    session.commit()
    set_session_cookie(request, response, token, state=state)
    logger.info("user %s (%s) logged in", user.username, user.role.value)
    return LoginOut(token=token, username=user.username, role=user.role, expires_at=expires_at)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, summary="Log out")
def logout(request: Request, session: SessionDep) -> Response:
    """End the session of the presented token (if any) and clear the cookie."""
    token = auth.request_token(request)
    if token:
        auth.revoke_token(session, token=token)
        session.commit()
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(auth.COOKIE_NAME, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get(
    "/me",
    response_model=MeOut,
    responses={401: {"description": "No valid login."}},
    summary="Who am I",
)
def me(principal: PrincipalDep) -> MeOut:
    return MeOut(
        username=principal.username,
        role=principal.role,
        authenticated=principal.authenticated,
    )
