"""The command center's pages (server-rendered shells; data through the JSON API) and login.

``/`` (and ``/review``) the queue, ``/cases/{id}`` one case, ``/stats`` the statistics,
``/map`` the map (摊一张图), ``/webhooks`` the webhook deliveries (admins); ``/login``;
``/locale/{locale}`` the language switch (a cookie); ``/i18n/{locale}.json`` the message
catalogue for the scripts. Every page
extends ``base.html`` and takes its text from the catalogue (:mod:`server.i18n`) through
the Jinja global ``t``. Logged-in pages also refresh the CSRF cookie of the session
(:mod:`server.csrf`) that ``server/static/js/api.js`` copies into its requests.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated, Any, Final

from fastapi import APIRouter, Form, HTTPException, Path, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from sqlalchemy.orm import Session

from contracts.events import ViolationType
from server import auth
from server.api.deps import LoginGuardDep, SessionDep, StateDep, request_is_https
from server.api.routes.auth import (
    LoginRefusedError,
    check_login,
    set_csrf_cookie,
    set_session_cookie,
)
from server.api.routes.lifecycle import visible_case
from server.core.db import utcnow
from server.i18n import LOCALE_COOKIE, LOCALES, Catalog, pick_locale
from server.org.scope import scope_for
from server.org.tables import Unit
from server.schemas import API_PREFIX
from server.state import ServerState
from server.tables import CaseStatus, UserRole

logger = logging.getLogger(__name__)

NAV: Final[tuple[tuple[str, str, str], ...]] = (
    ("/", "common.nav.queue", "queue"),
    ("/stats", "common.nav.stats", "stats"),
    ("/map", "common.nav.map", "map"),
    ("/cameras", "common.nav.cameras", "cameras"),
)
"""The header's links: path, catalogue key, page name."""
ADMIN_NAV: Final[tuple[tuple[str, str, str], ...]] = (
    ("/webhooks", "common.nav.webhooks", "webhooks"),
)
"""Further links for admins."""
LOCALE_NAMES: Final[tuple[tuple[str, str], ...]] = (
    ("zh-CN", "common.locale.zh-CN"),
    ("en", "common.locale.en"),
)
CATALOG_MAX_AGE_S: Final[int] = 3600


@dataclass(frozen=True)
class PageUser:
    """Who the page is shown to (the header names them and their unit)."""

    username: str
    role: str
    authenticated: bool
    unit_id: str | None = None
    unit_name: str | None = None


def _local_path(value: str | None) -> str:
    """``value`` if it is a path on this server (no scheme, no ``//host``), else ``/``."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def page_user(
    request: Request, state: ServerState, session: Session, locale: str
) -> PageUser | None:
    """The logged-in user with their unit, the anonymous admin without logins, or ``None``."""
    principal = _principal(request, state, session)
    if principal is None:
        return None
    unit = session.get(Unit, principal.unit_id) if principal.unit_id else None
    unit_name = None
    if unit is not None:
        unit_name = unit.name_en if locale == "en" and unit.name_en else unit.name
    return PageUser(
        username=principal.username,
        role=principal.role.value,
        authenticated=principal.authenticated,
        unit_id=unit.id if unit is not None else None,
        unit_name=unit_name,
    )


def _principal(request: Request, state: ServerState, session: Session) -> auth.Principal | None:
    if not state.settings.auth_enabled:
        return auth.ANONYMOUS_ADMIN
    token = auth.request_token(request)
    return auth.principal_for_token(session, token=token, now=utcnow()) if token else None


def case_in_reach(request: Request, state: ServerState, session: Session, case_id: int) -> bool:
    """Whether the requester's units reach the case (the API's rule: 404 otherwise)."""
    principal = _principal(request, state, session)
    if principal is None:
        return False
    try:
        visible_case(session, scope=scope_for(session, unit_id=principal.unit_id), case_id=case_id)
    except HTTPException:
        return False
    return True


def locale_of(request: Request, state: ServerState) -> str:
    """The page language: the switch's cookie, else ``default_locale``."""
    cookie = request.cookies.get(LOCALE_COOKIE)
    return pick_locale(cookie) if cookie else state.settings.default_locale


class PageRenderer:
    """Renders a page that extends ``base.html`` for the logged-in user (or sends them to
    ``/login``), and renews the session's CSRF cookie. Other areas' page routes use it too:
    ``PageRenderer(templates, catalog)(request, state, session, "cameras/list.html", "cameras")``.
    """

    def __init__(self, templates: Jinja2Templates, catalog: Catalog) -> None:
        self.templates = templates
        self.catalog = catalog

    def __call__(
        self,
        request: Request,
        state: ServerState,
        session: Session,
        template: str,
        page: str,
        status_code: int = status.HTTP_200_OK,
        **context: Any,
    ) -> Response:
        locale = locale_of(request, state)
        user = page_user(request, state, session, locale)
        if user is None:
            return RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
        response = self.templates.TemplateResponse(
            request,
            template,
            {
                "api_prefix": API_PREFIX,
                "locale": locale,
                "locales": LOCALE_NAMES,
                "i18n_url": f"/i18n/{locale}.json?v={self.catalog.version}",
                "nav": NAV + ADMIN_NAV if user.role == UserRole.ADMIN.value else NAV,
                "page": page,
                "here": request.url.path,
                "user": user,
                **context,
            },
            status_code=status_code,
        )
        token = auth.request_token(request)
        if user.authenticated and token and request.cookies.get(auth.COOKIE_NAME) == token:
            set_csrf_cookie(request, response, token, state=state)
        return response


def make_router(templates: Jinja2Templates, catalog: Catalog) -> APIRouter:
    """The pages, the login form, the language switch and the catalogue as JSON."""
    router = APIRouter(include_in_schema=False)

    @pass_context
    def translate(context: Context, key: str, **values: object) -> str:
        return catalog.text(str(context.get("locale", LOCALES[0])), key, **values)

    templates.env.globals["t"] = translate
    render = PageRenderer(templates, catalog)

    @router.get("/", response_class=HTMLResponse)
    @router.get("/review", response_class=HTMLResponse)
    def queue_page(request: Request, state: StateDep, session: SessionDep) -> Response:
        return render(
            request,
            state,
            session,
            "queue.html",
            "queue",
            refresh_s=5,
            violations=[v.value for v in ViolationType],
            statuses=[s.value for s in CaseStatus],
        )

    @router.get("/cases/{case_id}", response_class=HTMLResponse)
    def case_page(
        request: Request,
        state: StateDep,
        session: SessionDep,
        case_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    ) -> Response:
        if not case_in_reach(request, state, session, case_id):  # login page if none
            return render(
                request,
                state,
                session,
                "notfound.html",
                "case",
                status_code=status.HTTP_404_NOT_FOUND,
                case_id=case_id,
            )
        return render(request, state, session, "case.html", "case", case_id=case_id)

    @router.get("/stats", response_class=HTMLResponse)
    def stats_page(request: Request, state: StateDep, session: SessionDep) -> Response:
        return render(
            request,
            state,
            session,
            "stats.html",
            "stats",
            violations=[v.value for v in ViolationType],
        )

    @router.get("/map", response_class=HTMLResponse)
    def map_page(request: Request, state: StateDep, session: SessionDep) -> Response:
        return render(
            request,
            state,
            session,
            "map.html",
            "map",
            tile_url=state.settings.map_tile_url or "",
            violations=[v.value for v in ViolationType],
        )

    @router.get("/webhooks", response_class=HTMLResponse)
    def webhooks_page(request: Request, state: StateDep, session: SessionDep) -> Response:
        """Receivers, deliveries and dead letters with a retry button (the API is admin-only)."""
        return render(request, state, session, "webhooks.html", "webhooks")

    @router.get("/locale/{locale}")
    def switch_locale(request: Request, state: StateDep, locale: str) -> Response:
        """Remember the language in a cookie and go back to the page (a local path only)."""
        target = _local_path(request.query_params.get("next"))
        response = RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
        if locale in LOCALES:
            response.set_cookie(
                LOCALE_COOKIE,
                locale,
                max_age=365 * 24 * 3600,
                httponly=True,
                samesite="lax",
                secure=state.settings.cookie_secure(
                    https=request_is_https(request, state.settings.trusted_proxies)
                ),
                path="/",
            )
        return response

    @router.get("/i18n/{locale}.json")
    def catalog_json(request: Request, locale: str) -> Response:
        """The catalogue of ``locale`` for the scripts (English under it where it lacks a key)."""
        if locale not in LOCALES:
            return JSONResponse(
                {"detail": f"no locale {locale[:20]!r}; one of {', '.join(LOCALES)}"},
                status_code=status.HTTP_404_NOT_FOUND,
            )
        etag = f'"{catalog.version}-{locale}"'
        headers = {"ETag": etag, "Cache-Control": f"public, max-age={CATALOG_MAX_AGE_S}"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
        return JSONResponse(catalog.for_locale(locale), headers=headers)

    @router.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, state: StateDep) -> Response:
        return login_response(request, state, None, status.HTTP_200_OK, {})

    def login_response(
        request: Request,
        state: ServerState,
        error: str | None,
        status_code: int,
        headers: dict[str, str],
    ) -> Response:
        locale = locale_of(request, state)
        return templates.TemplateResponse(
            request,
            "login.html",
            {"error": error, "locale": locale, "locales": LOCALE_NAMES, "here": "/login"},
            status_code=status_code,
            headers=headers,
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
            locale = locale_of(request, state)
            message = (
                catalog.text(locale, "common.login.wrong")
                if exc.status_code == status.HTTP_401_UNAUTHORIZED
                else catalog.text(locale, "common.login.throttled", detail=exc.detail)
            )
            return login_response(request, state, message, exc.status_code, exc.headers)
        ttl = state.settings.auth_token_ttl_s
        token, _ = auth.issue_token(session, user=user, now=utcnow(), ttl_s=ttl)
        session.commit()
        logger.info("user %s (%s) logged in on the login page", user.username, user.role.value)
        response = RedirectResponse("/", status_code=status.HTTP_303_SEE_OTHER)
        set_session_cookie(request, response, token, state=state)
        return response

    return router
