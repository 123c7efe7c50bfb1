"""The review page (server-rendered shell, data through the JSON API) and the login page."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from server import auth
from server.api.deps import LoginGuardDep, SessionDep, StateDep
from server.api.routes.auth import LoginRefusedError, check_login, set_session_cookie
from server.core.db import utcnow
from server.schemas import API_PREFIX

logger = logging.getLogger(__name__)

_CSP = (
    "default-src 'self'; img-src 'self'; script-src 'self'; "
    "style-src 'self'; object-src 'none'; frame-ancestors 'none'"
)


def make_router(templates: Jinja2Templates) -> APIRouter:
    """Routes for ``/``, ``/review`` (``review.html``) and ``/login`` (``login.html``)."""
    router = APIRouter(include_in_schema=False)

    def _logged_in(request: Request, state: StateDep, session: SessionDep) -> bool:
        if not state.settings.auth_enabled:
            return True
        token = auth.request_token(request)
        return (
            bool(token)
            and auth.principal_for_token(session, token=token or "", now=utcnow()) is not None
        )

    @router.get("/", response_class=HTMLResponse)
    @router.get("/review", response_class=HTMLResponse)
    def review_page(request: Request, state: StateDep, session: SessionDep) -> Response:
        if not _logged_in(request, state, session):
            return RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
        return templates.TemplateResponse(
            request,
            "review.html",
            {"api_prefix": API_PREFIX, "refresh_s": 5},
            headers={"Content-Security-Policy": _CSP},
        )

    @router.get("/login", response_class=HTMLResponse)
    def login_page(request: Request) -> Response:
        return templates.TemplateResponse(
            request, "login.html", {"error": None}, headers={"Content-Security-Policy": _CSP}
        )

    @router.post("/login", response_class=HTMLResponse)
    def login_form(
        request: Request,
        state: StateDep,
        session: SessionDep,
        guard: LoginGuardDep,
        username: Annotated[str, Form(max_length=64)],
        password: Annotated[str, Form(max_length=1024)],
    ) -> Response:
        try:
            user = check_login(
                request,
                session=session,
                state=state,
                guard=guard,
                username=username,
                password=password,
            )
        except LoginRefusedError as exc:
            message = (
                "用户名或密码错误 Wrong user name or password."
                if exc.status_code == status.HTTP_401_UNAUTHORIZED
                else f"登录尝试过多 Too many attempts: {exc.detail}."
            )
            return templates.TemplateResponse(
                request,
                "login.html",
                {"error": message},
                status_code=exc.status_code,
                headers={"Content-Security-Policy": _CSP, **exc.headers},
            )
        ttl = state.settings.auth_token_ttl_s
        token, _ = auth.issue_token(session, user=user, now=utcnow(), ttl_s=ttl)
        session.commit()
        logger.info("user %s (%s) logged in on the login page", user.username, user.role.value)
        response = RedirectResponse("/", status_code=status.HTTP_303_SEE_OTHER)
        set_session_cookie(request, response, token, state=state)
        return response

    return router
