"""The wire contract between civicwatch edges and the server.

This package is imported by both sides and imports neither: it holds the versioned
event schema and the MQTT topic names, nothing else.
"""

from contracts.events import (
    SCHEMA_VERSION,
    Box,
    EventPhase,
    EvidenceKind,
    EvidenceRef,
    ModelRef,
    ViolationType,
    ZoneEvent,
)

__all__ = [
    "SCHEMA_VERSION",
    "Box",
    "EventPhase",
    "EvidenceKind",
    "EvidenceRef",
    "ModelRef",
    "ViolationType",
    "ZoneEvent",
]
