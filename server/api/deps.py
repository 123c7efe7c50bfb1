"""FastAPI dependencies and their ``Annotated`` aliases: state, session and who is asking.

The API layer sits above :mod:`server.auth` (users, tokens, roles) and applies it to a
request here; nothing below ``server.api`` imports this module.

Example:
    >>> @router.get("/cases")  # doctest: +SKIP
    ... def list_cases(session: SessionDep, _principal: ReaderDep) -> CaseList: ...
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from typing import Annotated, cast

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy.orm import Session

from server.auth import (
    ANONYMOUS_ADMIN,
    DISPATCH_ROLES,
    DISPOSE_ROLES,
    ESCALATE_ROLES,
    READ_ROLES,
    REVIEW_ROLES,
    Principal,
    principal_for_token,
    request_token,
)
from server.core.db import utcnow
from server.login_guard import LoginGuard
from server.org.scope import Scope, scope_for
from server.state import ServerState
from server.tables import UserRole


def get_state(request: Request) -> ServerState:
    """The running server's shared objects (``app.state.civicwatch``)."""
    return cast(ServerState, request.app.state.civicwatch)


StateDep = Annotated[ServerState, Depends(get_state)]


def get_session(state: StateDep) -> Iterator[Session]:
    """One session per request; the route commits what it changes."""
    with state.session_factory() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_login_guard(request: Request) -> LoginGuard:
    """The server's login admission control (``app.state.login_guard``)."""
    return cast(LoginGuard, request.app.state.login_guard)


LoginGuardDep = Annotated[LoginGuard, Depends(get_login_guard)]


def _trusted(address: str, proxies: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in proxies)


def client_address(request: Request, proxies: tuple[str, ...]) -> str:
    """The requester's address: the peer, or what a trusted proxy says in X-Forwarded-For.

    Only hops added by trusted proxies are believed: the right-most address in
    ``X-Forwarded-For`` that is not itself a trusted proxy.
    """
    peer = request.client.host if request.client is not None else "unknown"
    if not _trusted(peer, proxies):
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            return hop[:64]
    return peer


def request_is_https(request: Request, proxies: tuple[str, ...]) -> bool:
    """Whether the client spoke https: to us, or to a trusted proxy (``X-Forwarded-Proto``)."""
    if request.url.scheme == "https":
        return True
    peer = request.client.host if request.client is not None else ""
    proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return proto == "https" and _trusted(peer, proxies)


def current_principal(request: Request, state: StateDep, session: SessionDep) -> Principal:
    """The requester; 401 when authentication is on and no valid login is presented."""
    if not state.settings.auth_enabled:
        return ANONYMOUS_ADMIN
    token = request_token(request)
    principal = principal_for_token(session, token=token, now=utcnow()) if token else None
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="login required (POST /api/v1/auth/login, or the /login page)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]
"""Whoever is asking (anyone logged in; the anonymous admin when auth is off)."""


def require(*roles: UserRole) -> Callable[..., Principal]:
    """A dependency that lets ``roles`` (and admin) through and refuses others with 403."""
    allowed = frozenset((*roles, UserRole.ADMIN))

    def dependency(principal: PrincipalDep) -> Principal:
        if principal.role not in allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"role {principal.role.value} may not do this; needs one of "
                f"{', '.join(sorted(r.value for r in allowed))}",
            )
        return principal

    return dependency


ReaderDep = Annotated[Principal, Depends(require(*READ_ROLES))]
"""Operators, reviewers and admins: read cases, evidence and chains."""

ReviewerDep = Annotated[Principal, Depends(require(*REVIEW_ROLES))]
"""Reviewers and admins: give verdicts."""

AdminDep = Annotated[Principal, Depends(require(UserRole.ADMIN))]
"""Admins only: legal holds and other changes outside review."""

DispatcherDep = Annotated[Principal, Depends(require(*DISPATCH_ROLES))]
"""Dispatchers and admins: dispatch, verify, close, reopen."""

TeamDep = Annotated[Principal, Depends(require(*DISPOSE_ROLES))]
"""Field teams and admins: report disposals."""

EscalatorDep = Annotated[Principal, Depends(require(*ESCALATE_ROLES))]
"""Reviewers, dispatchers and admins: move a case to the unit above."""


def principal_scope(session: SessionDep, principal: PrincipalDep) -> Scope:
    """The requester's reach: its unit's subtree (:mod:`server.org.scope`)."""
    return scope_for(session, unit_id=principal.unit_id)


ScopeDep = Annotated[Scope, Depends(principal_scope)]
"""Which units (and so which cases) the requester reaches."""
