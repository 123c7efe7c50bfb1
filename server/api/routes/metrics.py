"""``GET /metrics``: the server's Prometheus metrics (:mod:`server.metrics`).

Behind the same gate as ``/healthz``: a login with a read role, or, for a scraper that
cannot log in, ``Authorization: Bearer <metrics_token>`` when ``metrics_token`` is set
(environment ``CIVICWATCH_METRICS_TOKEN``). The token opens ``/metrics`` only.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from server import metrics
from server.api.deps import SessionDep, StateDep, current_principal, require
from server.auth import READ_ROLES

router = APIRouter(tags=["health"])


def _token_matches(request: Request, state: StateDep) -> bool:
    expected = state.settings.metrics_token
    presented = request.headers.get("authorization", "").partition(" ")
    if expected is None or presented[0].lower() != "bearer":
        return False
    return hmac.compare_digest(presented[2].strip().encode(), expected.get_secret_value().encode())


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format."},
        401: {"description": "No login and no (or a wrong) metrics token."},
        403: {"description": "The login's role may not read."},
    },
    summary="Prometheus metrics",
)
def read_metrics(request: Request, state: StateDep, session: SessionDep) -> Response:
    """Ingest counts and latency, queue lengths and the broker connection, for Prometheus."""
    if not _token_matches(request, state):
        require(*READ_ROLES)(current_principal(request, state, session))
    return Response(
        metrics.render(state),
        media_type=CONTENT_TYPE_LATEST,
        headers={"Cache-Control": "no-store"},
    )
