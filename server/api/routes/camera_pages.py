"""The camera operators' pages: ``/cameras`` (registry and health) and
``/cameras/{id}/zones`` (the zone editor). Shells extending ``base.html``; the data comes
from :mod:`server.api.routes.cameras` through ``server/static/cameras/*.js``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from server import auth
from server.api.deps import SessionDep, StateDep
from server.api.routes.auth import set_csrf_cookie
from server.api.routes.pages import LOCALE_NAMES, NAV, page_user
from server.i18n import LOCALE_COOKIE, Catalog, pick_locale
from server.schemas import API_PREFIX


def make_router(templates: Jinja2Templates, catalog: Catalog) -> APIRouter:
    """The two camera pages (``t`` is the Jinja global :mod:`.pages` registers)."""
    router = APIRouter(include_in_schema=False)

    def render(
        request: Request, state: StateDep, session: SessionDep, template: str, **extra: object
    ) -> Response:
        cookie = request.cookies.get(LOCALE_COOKIE)
        locale = pick_locale(cookie) if cookie else state.settings.default_locale
        user = page_user(request, state, session, locale)
        if user is None:
            return RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
        response = templates.TemplateResponse(
            request,
            template,
            {
                "api_prefix": API_PREFIX,
                "locale": locale,
                "locales": LOCALE_NAMES,
                "i18n_url": f"/i18n/{locale}.json?v={catalog.version}",
                "nav": NAV,
                "page": "cameras",
                "here": request.url.path,
                "user": user,
                **extra,
            },
        )
        token = auth.request_token(request)
        if user.authenticated and token and request.cookies.get(auth.COOKIE_NAME) == token:
            set_csrf_cookie(request, response, token, state=state)
        return response

    @router.get("/cameras", response_class=HTMLResponse)
    def cameras_page(request: Request, state: StateDep, session: SessionDep) -> Response:
        return render(request, state, session, "cameras/list.html")

    @router.get("/cameras/{camera_pk}/zones", response_class=HTMLResponse)
    def zone_editor_page(
        request: Request,
        state: StateDep,
        session: SessionDep,
        camera_pk: Annotated[int, Path(ge=1, le=2**31)],
    ) -> Response:
        return render(request, state, session, "cameras/zones.html", camera_pk=camera_pk)

    return router
