"""``civicwatch edge``: run an edge worker from its config file (or only check the file)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edge.config import EdgeConfig

logger = logging.getLogger(__name__)


def _login_lines(config: EdgeConfig, sites: set[str]) -> list[str]:
    """The broker logins ``--check`` reports: variable names and set/missing, never values.

    Ends with a warning when the worker would run without sensors for want of the sensor
    subscriber's own login (:func:`edge.sensors.make_sensor_subscriber`).
    """

    def state(name: str) -> str:
        return f"{name} {'<set>' if os.environ.get(name) else 'missing'}"

    mqtt, sensors = config.mqtt, config.sensors
    lines = [f"mqtt login: {state(mqtt.username_env)}, {state(mqtt.password_env)}"]
    if not (sensors.enabled and sites):
        return lines
    lines.append(f"sensors login: {state(sensors.username_env)}, {state(sensors.password_env)}")
    publisher = mqtt.credentials()
    own = os.environ.get(sensors.username_env)
    if publisher is not None and not own:
        lines.append(
            f"warning: {sensors.username_env} is missing while the publisher logs in: the edge "
            f"runs WITHOUT sensor readings for site(s) {', '.join(sorted(sites))}; set the "
            "<edge_id>.sensors account's login"
        )
    elif publisher is not None and own == publisher.username:
        lines.append(
            f"warning: {sensors.username_env} names the same account as {mqtt.username_env}: "
            "the edge runs WITHOUT sensor readings; use the <edge_id>.sensors account"
        )
    return lines


def run_edge(args: argparse.Namespace) -> int:
    from edge.config import EdgeConfigError, load_edge_config

    try:
        config = load_edge_config(args.config)
    except EdgeConfigError as exc:
        logger.error("invalid edge config: %s", exc)
        return 2
    if args.check:
        from zones.config import check_zone_files

        checks = check_zone_files([camera.zones for camera in config.cameras])
        problems = [problem for check in checks for problem in check.problems]
        sites = {
            zone.site_id
            for check in checks
            if check.zones is not None
            for zone in check.zones.zones
            if zone.site_id is not None
        }
        if not config.detector.path.is_file():
            problems.append(f"{args.config}: detector.path: no such file {config.detector.path}")
        elif config.model_registry is not None:
            from edge.registry import (
                ModelVerificationError,
                RegistryError,
                load_registry,
                verify_model,
            )

            try:
                verify_model(config.detector.path, load_registry(config.model_registry))
            except (RegistryError, ModelVerificationError) as exc:
                problems.append(f"{args.config}: model_registry: {exc}")
        for line in [*_login_lines(config, sites), *problems]:
            print(line)
        if problems:
            return 1
        server = " + the server's config" if config.control.enabled else ""
        print(f"{args.config}: ok ({len(config.cameras)} camera(s){server})")
        return 0

    from edge.control.runtime import EdgeRuntime
    from edge.detectors import DetectorError
    from edge.detectors.labels import LabelMapError
    from edge.registry import ModelVerificationError, RegistryError
    from zones.config import ZoneFileError

    try:
        runtime = EdgeRuntime(config)  # the worker, and the server config, health, clips
    except (
        DetectorError,
        LabelMapError,
        ModelVerificationError,
        RegistryError,
        ZoneFileError,
        ValueError,
    ) as exc:
        logger.error("edge %s cannot start: %s", config.edge_id, exc)
        return 2

    def _stop(signum: int, _frame: FrameType | None) -> None:
        logger.info("signal %d: stopping the edge", signum)
        runtime.stop_event.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    from edge.rollout.wiring import start_rollout

    rollout = start_rollout(runtime)  # None unless CIVICWATCH_MODEL_SERVER_URL is set
    try:
        runtime.run_forever()
    finally:
        if rollout is not None:
            rollout.stop()
    return 0


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "edge",
        help="run an edge worker (cameras -> detector -> zones/rules -> MQTT)",
        description=(
            "Run an edge worker: read every configured camera (RTSP or file), detect objects, "
            "apply the camera's zones and rules, and publish evidence events over MQTT through "
            "a durable outbox. MQTT credentials come from the environment "
            "(CIVICWATCH_MQTT_USERNAME / CIVICWATCH_MQTT_PASSWORD by default)."
        ),
    )
    parser.add_argument(
        "--config",
        type=Path,
        required=True,
        help="edge config YAML (see configs/edge.yaml); relative paths resolve from the cwd",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help=(
            "validate the config and its zone files, report whether the MQTT and sensor "
            "logins are set (variable names only), print every problem, and exit"
        ),
    )
    parser.set_defaults(func=run_edge)
