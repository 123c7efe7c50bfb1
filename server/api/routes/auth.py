"""Login and logout for the API (bearer token) and the review page (session cookie)."""

from __future__ import annotations

import logging
from datetime import datetime

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from server import auth
from server.api.deps import PrincipalDep, SessionDep, StateDep
from server.core.db import utcnow
from server.tables import UserRole

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


def set_session_cookie(response: Response, token: str, *, max_age: int, secure: bool) -> None:
    response.set_cookie(
        auth.COOKIE_NAME,
        token,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/",
    )


@router.post(
    "/login",
    response_model=LoginOut,
    responses={401: {"description": "Wrong user name or password, or a disabled account."}},
    summary="Log in",
)
def login(body: LoginIn, response: Response, session: SessionDep, state: StateDep) -> LoginOut:
    """Check the password and issue a token (also set as an HttpOnly session cookie)."""
    user = auth.authenticate(session, username=body.username, password=body.password)
    if user is None:
        logger.warning("failed login for user name %r", body.username[:64])
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="wrong user name or password")
    ttl = state.settings.auth_token_ttl_s
    token, expires_at = auth.issue_token(session, user=user, now=utcnow(), ttl_s=ttl)
    session.commit()
    set_session_cookie(response, token, max_age=ttl, secure=state.settings.auth_cookie_secure)
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
