"""Check a config message from the server as a whole, and turn it into camera specs.

Everything is checked before anything is applied: the schema version (a newer one is
refused in words), the edge id, every camera's stream URL and every zone file (with the
:mod:`zones` validator, the one ``civicwatch zones validate`` uses). One problem anywhere
refuses the whole config; the message lists every problem found.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from contracts.control import ControlCamera, ControlMessageError, EdgeConfigMessage
from edge.config import CameraConfig
from edge.control.config import ControlConfig
from edge.sources import RtspSourceConfig, redact_text
from zones.config import CameraZones, ZoneFileError, parse_zone_text


class ConfigRefusedError(ValueError):
    """A config the edge will not run; ``problems`` lists each (credential-free)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = [redact_text(p) for p in problems]
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True, slots=True)
class CameraSpec:
    """One camera as the worker runs it: its config and its zones.

    Attributes:
        config: Source, rate and enabled flag (``zones`` names the file the zones are in).
        zones: The validated zones.
        zone_version: The server's zone version; ``None`` for a camera of the YAML file.
        reference_sha256: The snapshot the zones were drawn on, if any.
    """

    config: CameraConfig
    zones: CameraZones
    zone_version: int | None = None
    reference_sha256: str | None = None


@dataclass(frozen=True, slots=True)
class ValidatedConfig:
    """A config message that passed every check, with its cameras as specs."""

    message: EdgeConfigMessage
    cameras: dict[str, CameraSpec]


def zone_file(zones_dir: Path, camera: ControlCamera) -> Path:
    """Where the camera's zone file of this version is written."""
    return zones_dir / f"{camera.camera_id}.v{camera.zone_version}.yaml"


def _camera_spec(
    camera: ControlCamera, control: ControlConfig, zones_dir: Path, problems: list[str]
) -> CameraSpec | None:
    where = f"camera {camera.camera_id} (zones v{camera.zone_version})"
    found = len(problems)
    try:
        zones = parse_zone_text(
            camera.zones_yaml, source=Path(f"{camera.camera_id}.v{camera.zone_version}.yaml")
        )
    except ZoneFileError as exc:
        problems.extend(f"{where}: {problem}" for problem in exc.problems)
        zones = None
    if zones is not None and zones.camera_id != camera.camera_id:
        problems.append(f"{where}: the zone file is for camera {zones.camera_id!r}")
    settings = control.profiles.get(camera.profile)  # None: the edge's scheduling decides
    source_fields: dict[str, object] = {"type": "rtsp", "url": camera.stream_url}
    if settings is not None:
        source_fields["decode"] = settings.decode
    try:
        source = RtspSourceConfig.model_validate(source_fields)
    except ValidationError as exc:
        problems.extend(f"{where}: stream_url: {e['msg']}" for e in exc.errors())
        return None
    if zones is None or len(problems) > found:
        return None
    fields: dict[str, object] = {
        "id": camera.camera_id,
        "source": source,
        "zones": zone_file(zones_dir, camera),
        "enabled": camera.enabled,
        "profile": camera.profile.value,
    }
    if settings is not None:
        fields["analysis_fps"] = settings.analysis_fps
    config = CameraConfig.model_validate(fields)
    return CameraSpec(config, zones, camera.zone_version, camera.reference_sha256)


def validate_config(
    payload: bytes | str, *, edge_id: str, control: ControlConfig, zones_dir: Path
) -> ValidatedConfig:
    """Parse and check a config message.

    Args:
        payload: The message as received.
        edge_id: This edge; the message must be for it.
        control: Profiles to map each camera's profile to.
        zones_dir: Where the zone files of this config will be written.

    Raises:
        ConfigRefusedError: Anything wrong, every problem listed.
    """
    try:
        message = EdgeConfigMessage.from_json(payload)
    except ControlMessageError as exc:
        raise ConfigRefusedError([str(exc)]) from None
    except ValidationError as exc:
        raise ConfigRefusedError(
            [
                f"edge config: {'.'.join(str(p) for p in e['loc']) or 'message'}: {e['msg']}"
                for e in exc.errors()
            ]
        ) from None
    if message.edge_id != edge_id:
        raise ConfigRefusedError([f"the config is for edge {message.edge_id!r}, not {edge_id!r}"])
    problems: list[str] = []
    cameras: dict[str, CameraSpec] = {}
    for camera in message.cameras:
        spec = _camera_spec(camera, control, zones_dir, problems)
        if spec is not None:
            cameras[camera.camera_id] = spec
    if problems:
        raise ConfigRefusedError(problems)
    return ValidatedConfig(message=message, cameras=cameras)
