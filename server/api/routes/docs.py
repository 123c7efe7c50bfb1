"""The API description (``/openapi.json``) and its pages (``/docs``, ``/redoc``), for readers.

With ``auth_enabled`` they need a login like the API they describe (they name edges,
routes and limits); the Swagger UI and ReDoc files are served from the package
(fastapi-offline), never from a CDN.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from server.api.deps import ReaderDep

OPENAPI_URL = "/openapi.json"


def make_router(app: FastAPI, *, static_url: str) -> APIRouter:
    """``/openapi.json``, ``/docs`` and ``/redoc`` of ``app``, behind :data:`ReaderDep`."""
    router = APIRouter(include_in_schema=False)

    @router.get(OPENAPI_URL)
    def openapi(_principal: ReaderDep) -> JSONResponse:
        return JSONResponse(app.openapi())

    @router.get("/docs")
    def swagger(_principal: ReaderDep) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=OPENAPI_URL,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{static_url}/swagger-ui-bundle.js",
            swagger_css_url=f"{static_url}/swagger-ui.css",
            swagger_favicon_url=f"{static_url}/favicon.png",
        )

    @router.get("/redoc")
    def redoc(_principal: ReaderDep) -> HTMLResponse:
        return get_redoc_html(
            openapi_url=OPENAPI_URL,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{static_url}/redoc.standalone.js",
            redoc_favicon_url=f"{static_url}/favicon.png",
            with_google_fonts=False,
        )

    return router
