"""The edge's configuration file (YAML), validated by pydantic; unknown keys are refused."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.ids import Identifier
from contracts.yamlconfig import ConfigError, load_yaml_model
from edge.chain import ChainConfig
from edge.clips.config import ClipsConfig
from edge.control.config import ControlConfig
from edge.detectors import DetectorConfig
from edge.detectors.labels import LabelMapConfig
from edge.evidence import EvidenceConfig
from edge.health import HealthConfig
from edge.metrics import MetricsConfig
from edge.mqtt import MqttConfig
from edge.registry import default_registry_path
from edge.rules.settings import RulesSettings
from edge.scheduling.config import Profile, SchedulingConfig
from edge.sensors import SensorsConfig
from edge.snapshots import SnapshotConfig
from edge.sources import SourceConfig
from edge.tracking import ByteTrackSettings, TrackerSettings


class CameraConfig(BaseModel):
    """One camera: where its frames come from and which zone file applies."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Identifier = Field(description="Camera id, unique on this edge; used in topics.")
    source: SourceConfig = Field(description="RTSP stream or video file.")
    zones: Path = Field(description="Zone file (YAML, 0..1 coordinates) of this camera.")
    analysis_fps: float = Field(
        2.0, gt=0.0, le=60.0, description="Frames analysed per second; the rest are skipped."
    )
    enabled: bool = Field(True, description="Set false to keep a camera configured but idle.")
    profile: Profile | None = Field(
        None,
        description="stationary (stalls, cross-door, construction: a look every "
        "scheduling.stationary_look_s, change gating if enabled) or road (trucks: "
        "scheduling.road_fps); an analysis_fps set here wins over the profile's rate.",
    )

    def rate_fps(self, scheduling: SchedulingConfig) -> float:
        """Frames analysed per second: analysis_fps if set, else the profile's rate."""
        if "analysis_fps" in self.model_fields_set or self.profile is None:
            return self.analysis_fps
        if self.profile == "road":
            return scheduling.road_fps
        return 1.0 / scheduling.stationary_look_s


class EdgeConfig(BaseModel):
    """Everything an edge worker needs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    edge_id: Identifier = Field(description="This edge's id; its events carry it.")
    mqtt: MqttConfig = Field(default_factory=MqttConfig, description="Broker connection.")
    detector: Annotated[DetectorConfig, Field(description="The object detector plugin.")]
    label_map: LabelMapConfig = Field(
        default_factory=LabelMapConfig,
        description="Model classes -> object names rules use; the default keeps the classes "
        "that already are object names (the project's own models).",
    )
    model_registry: Path | None = Field(
        default_factory=default_registry_path,
        description="Registry the model file must be listed in (sha256 checked before "
        "loading); by default $CIVICWATCH_MODEL_REGISTRY or the registry installed with "
        "civicwatch; null to skip the check for a model from elsewhere.",
    )
    tracker: TrackerSettings = Field(
        default_factory=ByteTrackSettings,
        description="Object tracker: type bytetrack (default) or simple.",
    )
    sensors: SensorsConfig = Field(
        default_factory=SensorsConfig, description="IoT sensor readings over MQTT."
    )
    rules: RulesSettings = Field(default_factory=RulesSettings, description="Rule settings.")
    evidence: EvidenceConfig = Field(
        default_factory=EvidenceConfig, description="Evidence snapshots."
    )
    chain: ChainConfig | None = Field(
        None,
        description="Signed evidence chain (Ed25519 key) and outbox disk budget; null: events "
        "are not signed and the server shows their cases as 'unchained'.",
    )
    outbox_path: Path = Field(
        Path("var/edge/outbox.db"),
        description="SQLite file of the durable outbox (messages not yet acknowledged).",
    )
    cameras: list[CameraConfig] = Field(
        default_factory=list,
        description="Cameras of this edge (at least one, unless control.enabled: then the "
        "server's config brings them).",
    )
    scheduling: SchedulingConfig = Field(
        default_factory=SchedulingConfig,
        description="Batched inference across cameras, spread look times, change gating and "
        "the rates of the camera profiles.",
    )
    metrics: MetricsConfig = Field(
        default_factory=MetricsConfig,
        description="Prometheus endpoint (per-camera rates, stage times, outbox, MQTT); off "
        "by default.",
    )

    control: ControlConfig = Field(
        default_factory=ControlConfig,
        description="Cameras and zone files from the server, applied without restart; off by "
        "default (the cameras above).",
    )
    health: HealthConfig = Field(
        default_factory=HealthConfig,
        description="Per-camera health samples over MQTT (counters, frozen picture, view check).",
    )
    snapshots: SnapshotConfig = Field(
        default_factory=SnapshotConfig,
        description="Latest-frame JPEGs for the server's zone editor (on request, periodic).",
    )
    clips: ClipsConfig = Field(
        default_factory=ClipsConfig,
        description="Event clips (MP4 from the stream's own packets) around each case start.",
    )

    @model_validator(mode="after")
    def _unique_cameras(self) -> EdgeConfig:
        if not self.cameras and not self.control.enabled:
            raise ValueError(
                "cameras: list at least one (or enable control: the server's config brings them)"
            )
        ids = [c.id for c in self.cameras]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate camera ids: {', '.join(dupes)}")
        return self


class EdgeConfigError(ConfigError):
    """The config file cannot be used; ``problems`` lists each as ``file:line: message``."""


def load_edge_config(path: Path) -> EdgeConfig:
    """Read and validate an edge config file.

    Relative paths inside it (zones, model, outbox) are resolved against the current
    directory, as the CLI documents.

    Raises:
        EdgeConfigError: If the file cannot be read, is not YAML, or breaks the schema; the
            error lists every problem with its line (and the nearest key for a misspelt one).
    """
    return load_yaml_model(
        path,
        EdgeConfig,
        expected="a mapping with edge_id, detector and cameras",
        error=EdgeConfigError,
    )
