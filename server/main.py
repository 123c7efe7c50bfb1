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

import fastapi_offline
from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from server.api.routes import auth as auth_routes
from server.api.routes import (
    camera_pages,
    cameras,
    cases,
    chain,
    clips,
    docs,
    evidence,
    exports,
    health,
    holds,
    metrics,
    notices,
    pages,
    stats,
    webhooks,
)
from server.api.routes import lifecycle as lifecycle_routes
from server.api.routes import models as models_routes
from server.api.routes import review_labels as review_labels_routes
from server.api.routes import units as units_routes
from server.cameras.runtime import CameraRuntime
from server.core.config import Settings
from server.core.db import make_engine, make_session_factory, run_migrations, utcnow
from server.csrf import CsrfMiddleware
from server.evidence_integrity import IntegrityMonitor
from server.evidence_store import open_evidence_store
from server.i18n import load_catalog
from server.ingest import IngestContext, IngestLimits, MqttIngest
from server.lifecycle.overdue import overdue_loop
from server.login_guard import LoginGuard
from server.metrics import ServerMetrics
from server.middleware import (
    BodyLimitMiddleware,
    SecurityHeadersMiddleware,
    content_security_policy,
    route_body_limits,
)
from server.org.units import load_units
from server.retention import apply_retention
from server.schemas import API_PREFIX
from server.state import ServerState
from server.webhooks.dispatcher import WebhookDispatcher

logger = logging.getLogger(__name__)

# Package data, found with importlib.resources (a wheel, an editable install or a checkout).
TEMPLATES_DIR = Path(str(files("server").joinpath("templates")))
"""The review pages' Jinja2 templates."""
STATIC_DIR = Path(str(files("server").joinpath("static")))
"""The review pages' static files (CSS, scripts)."""
DOCS_STATIC_URL = "/static/docs"
DOCS_STATIC_DIR = Path(fastapi_offline.__file__).parent / "static"
"""Where fastapi-offline serves the Swagger UI and ReDoc files."""
LOGIN_PATHS = (f"{API_PREFIX}/auth/login", "/login")
"""The routes whose bodies get ``http_limits.login_body_bytes``."""

_AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No valid login (only when auth_enabled is on)."},
    403: {"description": "The login's role may not do this."},
}


def _start(state: ServerState) -> None:
    """Blocking start-up work: migrate the schema, then start the MQTT ingest."""
    run_migrations(state.engine)
    if state.settings.units_file is not None:
        report = load_units(state.session_factory, state.settings.units_file, now=utcnow())
        logger.info("units file %s: %s", state.settings.units_file, report.summary())
    state.store.prepare()
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


async def _retention_loop(state: ServerState) -> None:
    """Apply the retention policy every ``retention.interval_s`` (first after one interval)."""
    policy = state.settings.retention
    while True:
        await asyncio.sleep(policy.interval_s)
        try:
            await asyncio.to_thread(
                apply_retention, state.session_factory, state.store, policy, now=utcnow()
            )
        except Exception:
            logger.exception("retention run failed; retrying in %d s", policy.interval_s)


def _stop(state: ServerState) -> None:
    if state.ingest is not None:
        state.ingest.stop()
        state.ingest = None
    state.engine.dispose()


def _webhook_dispatcher(state: ServerState) -> WebhookDispatcher | None:
    """The webhook dispatcher (``None`` when ``webhooks.enabled`` is off); failures counted."""
    if not state.settings.webhooks.enabled:
        return None
    metrics = state.metrics
    return WebhookDispatcher(
        state.session_factory,
        state.settings.webhooks,
        on_failure=(
            (lambda outcome: metrics.webhook_failures.labels(outcome=outcome).inc())
            if isinstance(metrics, ServerMetrics)
            else None
        ),
    )


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
        store=open_evidence_store(settings),
        metrics=ServerMetrics(),
    )

    integrity = IntegrityMonitor()  # evidence files against their rows, shown on /healthz
    camera_runtime = CameraRuntime(settings, state.session_factory)  # config push, alarms

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(_start, state)
        dispatcher = _webhook_dispatcher(state)  # after the migrations
        if dispatcher is not None:
            dispatcher.start()
        integrity.start(state.session_factory, state.store)
        await asyncio.to_thread(camera_runtime.start)
        alarms = (
            asyncio.create_task(camera_runtime.alarm_loop())
            if settings.cameras.alarm_interval_s > 0
            else None
        )
        retention = (
            asyncio.create_task(_retention_loop(state))
            if settings.retention.interval_s > 0
            else None
        )
        overdue = (
            asyncio.create_task(
                overdue_loop(
                    state.session_factory, interval_s=settings.lifecycle.overdue_interval_s
                )
            )
            if settings.lifecycle.overdue_interval_s > 0
            else None
        )
        try:
            yield
        finally:
            if dispatcher is not None:
                await asyncio.to_thread(dispatcher.stop)
            if alarms is not None:
                alarms.cancel()
            await asyncio.to_thread(camera_runtime.stop)
            if retention is not None:
                retention.cancel()
            if overdue is not None:
                overdue.cancel()
            await asyncio.to_thread(integrity.stop)
            await asyncio.to_thread(_stop, state)

    # Swagger UI and ReDoc files packaged with fastapi-offline (no CDN at run time); the
    # pages and /openapi.json themselves come from server.api.routes.docs, behind a login.
    app = FastAPI(
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        title="civicwatch",
        summary="Candidate cases from edge cameras, their evidence, and human review.",
        version="1",
        lifespan=lifespan,
    )
    app.mount(DOCS_STATIC_URL, StaticFiles(directory=DOCS_STATIC_DIR), name="static-docs")
    app.state.civicwatch = state
    app.state.login_guard = LoginGuard(settings.login)
    app.state.control_publisher = camera_runtime.publisher
    app.state.evidence_integrity = integrity

    api = APIRouter(prefix=API_PREFIX)
    api.include_router(cases.router, responses=_AUTH_RESPONSES)
    api.include_router(evidence.router, responses=_AUTH_RESPONSES)
    api.include_router(clips.router, responses=_AUTH_RESPONSES)
    api.include_router(chain.router, responses=_AUTH_RESPONSES)
    api.include_router(holds.router, responses=_AUTH_RESPONSES)
    api.include_router(exports.router, responses=_AUTH_RESPONSES)
    api.include_router(notices.router, responses=_AUTH_RESPONSES)
    api.include_router(stats.router, responses=_AUTH_RESPONSES)
    api.include_router(webhooks.router, responses=_AUTH_RESPONSES)
    api.include_router(lifecycle_routes.router, responses=_AUTH_RESPONSES)
    api.include_router(units_routes.router, responses=_AUTH_RESPONSES)
    api.include_router(cameras.router, responses=_AUTH_RESPONSES)
    api.include_router(review_labels_routes.router, responses=_AUTH_RESPONSES)
    api.include_router(models_routes.router, responses=_AUTH_RESPONSES)
    api.include_router(auth_routes.router)
    app.include_router(api)
    app.include_router(health.router)
    app.include_router(metrics.router)
    templates = Jinja2Templates(directory=TEMPLATES_DIR)
    catalog = load_catalog()
    app.include_router(pages.make_router(templates, catalog))
    app.include_router(camera_pages.make_router(templates, catalog))
    app.include_router(docs.make_router(app, static_url=DOCS_STATIC_URL))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # Outermost last: the body limit runs before routing, authentication and parsing.
    app.add_middleware(CsrfMiddleware, exempt_paths=LOGIN_PATHS, sessions=settings.auth_enabled)
    tile_origin = settings.map_tile_origin()
    app.add_middleware(
        SecurityHeadersMiddleware,
        cacheable_prefixes=("/static/", "/i18n/"),
        csp=content_security_policy(img_origins=(tile_origin,) if tile_origin else ()),
        csp_exempt_prefixes=("/docs", "/redoc"),
    )
    app.add_middleware(
        BodyLimitMiddleware,
        default_limit=settings.http_limits.body_bytes,
        limits=dict.fromkeys(LOGIN_PATHS, settings.http_limits.login_body_bytes),
        routes=route_body_limits(settings),
    )
    return app
