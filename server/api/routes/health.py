"""``/healthz``: database, MQTT ingest and edge availability."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response, status

from server import crud
from server.api.deps import StateDep
from server.core.db import database_ok
from server.schemas import HealthOut, IngestOut, MqttOut, edge_out

logger = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "The database is unreachable."}},
    summary="Health",
)
def healthz(state: StateDep, response: Response) -> HealthOut:
    """``ok`` when the database answers and the ingest (if enabled) is connected;
    ``degraded`` when only the broker is missing; ``down`` (HTTP 503) without a database.
    """
    db_ok = database_ok(state.engine)
    edges = []
    if db_ok:
        with state.session_factory() as session:
            edges = [edge_out(edge) for edge in crud.list_edges(session)]
    settings = state.settings
    if state.ingest is not None:
        mqtt_status = state.ingest.status()
        mqtt = MqttOut(
            enabled=True,
            connected=mqtt_status.connected,
            host=mqtt_status.host,
            port=mqtt_status.port,
        )
    else:
        mqtt = MqttOut(
            enabled=False, connected=False, host=settings.mqtt.host, port=settings.mqtt.port
        )
    counts = state.metrics.snapshot()
    if not db_ok:
        overall = "down"
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    elif mqtt.enabled and not mqtt.connected:
        overall = "degraded"
    else:
        overall = "ok"
    return HealthOut(
        status=overall,
        database=db_ok,
        mqtt=mqtt,
        edges=edges,
        ingest=IngestOut(accepted=counts.accepted, rejected=counts.rejected),
    )
