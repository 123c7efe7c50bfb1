"""The first review page (server-rendered shell, data through the JSON API)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from server.schemas import API_PREFIX


def make_router(templates: Jinja2Templates) -> APIRouter:
    """Routes for ``/`` and ``/review`` rendering ``review.html`` with ``templates``."""
    router = APIRouter(include_in_schema=False)

    @router.get("/", response_class=HTMLResponse)
    @router.get("/review", response_class=HTMLResponse)
    def review_page(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(
            request,
            "review.html",
            {"api_prefix": API_PREFIX, "refresh_s": 5},
            headers={
                "Content-Security-Policy": (
                    "default-src 'self'; img-src 'self'; script-src 'self'; "
                    "style-src 'self'; object-src 'none'; frame-ancestors 'none'"
                )
            },
        )

    return router
