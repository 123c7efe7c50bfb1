"""The objects one running server shares between its routes and its ingest."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from server.core.config import Settings
from server.evidence_store import EvidenceBackend
from server.ingest import IngestMetrics, MqttIngest


@dataclass(slots=True)
class ServerState:
    """Held on ``app.state.civicwatch``; built by :func:`server.main.create_app`.

    Attributes:
        settings: The validated settings.
        engine: The database engine.
        session_factory: Sessions for routes and ingest.
        store: Evidence bytes by hash (directory or object store).
        metrics: Ingest counters.
        ingest: The MQTT client once started, ``None`` when disabled or not started.
    """

    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    store: EvidenceBackend
    metrics: IngestMetrics
    ingest: MqttIngest | None = None
