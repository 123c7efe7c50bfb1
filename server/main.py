"""The FastAPI application factory.

Example:
    >>> from server.core.config import load_settings
    >>> app = create_app(load_settings(None))  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from fastapi_offline import FastAPIOffline

from server.api.routes import auth as auth_routes
from server.api.routes import cases, chain, evidence, health, pages
from server.core.config import Settings
from server.core.db import make_engine, make_session_factory, run_migrations
from server.evidence_store import EvidenceStore
from server.ingest import IngestContext, IngestLimits, IngestMetrics, MqttIngest
from server.schemas import API_PREFIX
from server.state import ServerState

logger = logging.getLogger(__name__)

# Package data, found with importlib.resources (a wheel, an editable install or a checkout).
TEMPLATES_DIR = Path(str(files("server").joinpath("templates")))
"""The review pages' Jinja2 templates."""
STATIC_DIR = Path(str(files("server").joinpath("static")))
"""The review pages' static files (CSS, scripts)."""

_AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No valid login (only when auth_enabled is on)."},
    403: {"description": "The login's role may not do this."},
}


def _start(state: ServerState) -> None:
    """Blocking start-up work: migrate the schema, then start the MQTT ingest."""
    run_migrations(state.engine)
    state.store.root.mkdir(parents=True, exist_ok=True)
    if not state.settings.auth_enabled:
        logger.warning(
            "auth_enabled is false: the API, the evidence and the review page are open to "
            "anyone who can reach %s:%d (fine for a demo on loopback, not for a deployment)",
            state.settings.http_host,
            state.settings.http_port,
        )
    if state.settings.mqtt_enabled:
        ingest = MqttIngest(
            settings=state.settings,
            session_factory=state.session_factory,
            context=IngestContext(
                store=state.store,
                limits=IngestLimits.from_settings(state.settings),
            ),
            metrics=state.metrics,
        )
        ingest.start()
        state.ingest = ingest
    else:
        logger.info("MQTT ingest disabled (mqtt_enabled is false)")


def _stop(state: ServerState) -> None:
    if state.ingest is not None:
        state.ingest.stop()
        state.ingest = None
    state.engine.dispose()


def create_app(settings: Settings) -> FastAPI:
    """Build the server: API, pages, and (in the lifespan) migrations and MQTT ingest.

    Nothing connects until the app starts; the database is migrated to head at start.

    Args:
        settings: Validated settings (see :func:`server.core.config.load_settings`).

    Returns:
        The application; its :class:`server.state.ServerState` is ``app.state.civicwatch``.
    """
    engine = make_engine(settings.database_url)
    state = ServerState(
        settings=settings,
        engine=engine,
        session_factory=make_session_factory(engine),
        store=EvidenceStore(settings.evidence_dir),
        metrics=IngestMetrics(),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(_start, state)
        try:
            yield
        finally:
            await asyncio.to_thread(_stop, state)

    # Swagger UI and ReDoc from files packaged with fastapi-offline: no CDN at run time.
    app = FastAPIOffline(
        title="civicwatch",
        summary="Candidate cases from edge cameras, their evidence, and human review.",
        version="1",
        lifespan=lifespan,
        static_url="/static/docs",
    )
    app.state.civicwatch = state

    api = APIRouter(prefix=API_PREFIX)
    api.include_router(cases.router, responses=_AUTH_RESPONSES)
    api.include_router(evidence.router, responses=_AUTH_RESPONSES)
    api.include_router(chain.router, responses=_AUTH_RESPONSES)
    api.include_router(auth_routes.router)
    app.include_router(api)
    app.include_router(health.router)
    templates = Jinja2Templates(directory=TEMPLATES_DIR)
    app.include_router(pages.make_router(templates))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
