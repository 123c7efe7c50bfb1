"""Model rollout (issue 18): which model an edge should run, published retained by the server.

**Assignment** (server -> edge): one :class:`ModelAssignmentMessage` per edge, retained, QoS 1,
on :func:`contracts.topics.model_topic`. Retained, so an edge that was offline gets the newest
assignment when it connects; whole (the model, where to fetch it, its hash), so applying it
never depends on an earlier message. ``revision`` grows by one with every assignment or
rollback of that edge; an edge ignores a revision it already applied.

The edge fetches the file over HTTP(S) from the server (``path`` under the server's URL, the
edge account's bearer token; resumable with ``Range``), checks ``sha256`` and ``size_bytes``
before loading it, and keeps its running model when anything fails.
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.events import Sha256, UtcDatetime
from contracts.ids import Identifier

ROLLOUT_SCHEMA_VERSION: Final[int] = 1

MAX_MODEL_BYTES: Final[int] = 512 * 1024 * 1024
"""The largest model file a rollout may carry."""


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=4096)


class AssignedModel(_Wire):
    """A registered model file: what it is and where the server serves it."""

    name: str = Field(min_length=1, max_length=128)
    version: str = Field(min_length=1, max_length=64)
    sha256: Sha256
    size_bytes: int = Field(gt=0, le=MAX_MODEL_BYTES)
    path: str = Field(
        pattern=r"^/api/v1/models/[0-9a-f]{64}/file$",
        description="HTTP path of the file on the server (GET, Range supported).",
    )


class ModelAssignmentMessage(_Wire):
    """The model one edge should run (retained on its model topic)."""

    schema_version: Literal[1] = 1
    edge_id: Identifier
    revision: int = Field(ge=1, description="Grows by one per assignment or rollback.")
    action: Literal["assign", "rollback"]
    model: AssignedModel
    previous: AssignedModel | None = Field(description="What the edge ran before (rollback).")
    canary: bool = Field(description="Assigned to this edge first, before its group.")
    assigned_by: str = Field(min_length=1, max_length=64)
    assigned_at: UtcDatetime

    def to_json(self) -> bytes:
        return self.model_dump_json().encode("utf-8")

    @classmethod
    def from_json(cls, payload: bytes | str) -> ModelAssignmentMessage:
        """Parse and validate; raises ``pydantic.ValidationError``."""
        return cls.model_validate_json(payload)
