"""Start the model rollout beside a running edge (``civicwatch edge``), when configured.

Opt-in through the environment, so a YAML-only edge runs as before:
``CIVICWATCH_MODEL_SERVER_URL`` (the server's base URL) turns it on; the edge logs in over
HTTP with the same account as its clip upload (``CIVICWATCH_EDGE_HTTP_USERNAME`` /
``CIVICWATCH_EDGE_HTTP_PASSWORD``, role ``edge``), right before each download. Models go to
``models/`` and the outcome to ``model-rollout.json`` beside the outbox; the comparison
frames are the cameras' latest frames (the health monitors').
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from contracts import topics
from edge.detectors import Detector
from edge.rollout.controller import ModelRollout, RolloutOutcome, RolloutSettings
from edge.rollout.download import ModelFetchError
from edge.types import ImageArray

if TYPE_CHECKING:
    from edge.control.runtime import EdgeRuntime

logger = logging.getLogger(__name__)

URL_ENV = "CIVICWATCH_MODEL_SERVER_URL"
USER_ENV = "CIVICWATCH_EDGE_HTTP_USERNAME"
PASSWORD_ENV = "CIVICWATCH_EDGE_HTTP_PASSWORD"


def login(server_url: str, username: str, password: str, timeout_s: float = 30.0) -> str:
    """A bearer token for the edge account.

    Raises:
        ModelFetchError: The login is refused or the server cannot be reached.
    """
    body = json.dumps({"username": username, "password": password}).encode()
    request = urllib.request.Request(
        server_url.rstrip("/") + "/api/v1/auth/login",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            token = json.loads(response.read()).get("token")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ModelFetchError(f"login as {username} at {server_url} failed: {exc}") from exc
    if not isinstance(token, str):
        raise ModelFetchError(f"login as {username} at {server_url}: no token in the answer")
    return token


def report_status(
    server_url: str, token: str, edge_id: str, outcome: RolloutOutcome, timeout_s: float = 30.0
) -> None:
    """POST the outcome to ``/api/v1/models/status`` (shown by ``civicwatch models list``).

    Raises:
        urllib.error.URLError / OSError: The server did not take it.
    """
    body = json.dumps(
        {
            "edge_id": edge_id,
            "revision": outcome.revision,
            "state": outcome.state,
            "sha256": outcome.sha256,
            "agreement": outcome.agreement,
            "detail": outcome.detail[:4000],
        }
    ).encode()
    request = urllib.request.Request(
        server_url.rstrip("/") + "/api/v1/models/status",
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=timeout_s):
        pass


def start_rollout(
    runtime: EdgeRuntime, environ: Mapping[str, str] | None = None
) -> ModelRollout | None:
    """Subscribe a :class:`ModelRollout` to the edge's model topic; ``None`` when not set up."""
    env = os.environ if environ is None else environ
    url = env.get(URL_ENV)
    if not url:
        return None
    username, password = env.get(USER_ENV), env.get(PASSWORD_ENV)
    if not username or not password:
        logger.error(
            "model rollout off: %s is set but %s / %s are not", URL_ENV, USER_ENV, PASSWORD_ENV
        )
        return None
    config = runtime.config
    base = config.outbox_path.parent
    worker = runtime.worker

    def samples() -> list[ImageArray]:
        frames = [m.latest for m in list(runtime.monitors.values())]
        return [f.image for f in frames if f is not None]

    rollout = ModelRollout(
        RolloutSettings(
            edge_id=config.edge_id,
            server_url=url,
            token="",
            models_dir=base / "models",
            state_file=base / "model-rollout.json",
        ),
        worker,
        current=lambda: worker.pipelines[0].detector,
        samples=samples,
        load=_loader(runtime),
        login=lambda: login(url, username, password),
        report=lambda outcome: report_status(
            url, login(url, username, password), config.edge_id, outcome
        ),
    )
    rollout.start()
    worker.publisher.subscribe(topics.model_topic(config.edge_id), rollout.on_message)
    logger.info(
        "model rollout on: assignments from %s, files from %s",
        topics.model_topic(config.edge_id),
        url,
    )
    return rollout


def _loader(runtime: EdgeRuntime) -> Callable[[Path], Detector]:
    """Load a fetched file with the edge's own detector settings, only the path changed."""
    from edge.detectors import create_detector

    detector_config = runtime.config.detector

    def load(path: Path) -> Detector:
        return create_detector(detector_config.model_copy(update={"path": path}))

    return load
