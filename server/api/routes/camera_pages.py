"""The camera operators' pages: ``/cameras`` (registry and health) and
``/cameras/{id}/zones`` (the zone editor). Shells extending ``base.html``, rendered by
:class:`server.api.routes.pages.PageRenderer` like every other page (same header, locale,
user and admin links); the data comes from :mod:`server.api.routes.cameras` through
``server/static/cameras/*.js``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from server.api.deps import SessionDep, StateDep
from server.api.routes.pages import PageRenderer
from server.i18n import Catalog

PAGE = "cameras"
"""The header's entry these pages belong to."""


def make_router(templates: Jinja2Templates, catalog: Catalog) -> APIRouter:
    """The two camera pages (``t`` is the Jinja global :mod:`.pages` registers)."""
    router = APIRouter(include_in_schema=False)
    render = PageRenderer(templates, catalog)

    @router.get("/cameras", response_class=HTMLResponse)
    def cameras_page(request: Request, state: StateDep, session: SessionDep) -> Response:
        return render(request, state, session, "cameras/list.html", PAGE)

    @router.get("/cameras/{camera_pk}/zones", response_class=HTMLResponse)
    def zone_editor_page(
        request: Request,
        state: StateDep,
        session: SessionDep,
        camera_pk: Annotated[int, Path(ge=1, le=2**31)],
    ) -> Response:
        return render(request, state, session, "cameras/zones.html", PAGE, camera_pk=camera_pk)

    return router
