"""``civicwatch demo``: broker, server and an edge on a sample clip, on one machine.

The demo uses a Mosquitto already listening on the configured port, or starts one
(installing Debian's package when run as root), or, where neither is possible, an
embedded Python broker (amqtt, MQTT 3.1.1) with a line saying so. A broker the demo
starts has no accounts: it lets anonymous clients in, so it listens on loopback only
and says so (a deployment uses the closed configuration of ``civicwatch keys mosquitto``).
It renders its own sample clip (a street stall that is set up and stays) with the project's scene
generator, starts the server on SQLite and an edge reading the clip, prints the review
URL and runs until Ctrl-C. It needs nothing from ``../shared`` and no network.

The server is seeded with a small city (``configs/units.yaml``: 1 市, 2 区, 3 街镇, a team
under each; the demo camera in 南京东路街道) and one account per level (a city admin, a
district dispatcher, a street reviewer, the street's team), whose passwords are made once,
kept in the work directory and printed at start. The pages are open without a login
unless ``--login`` (or ``login: true``) asks the server to require one.

The edge cuts an event clip (MP4, 10 s before to 5 s after each case start, from the clip's
own packets) and uploads it to the server as its HTTP account ``demo-edge`` (role ``edge``,
made with the others; its password goes to the edge process in its environment); the case
shows it as evidence of kind ``clip`` once uploaded, its sha256 fixed in the edge's chain.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType

import yaml
from pydantic import BaseModel, ConfigDict, Field

from civicwatch.services import (
    MosquittoProcess,
    find_mosquitto,
    free_port,
    install_mosquitto,
    is_loopback,
    port_open,
    start_mosquitto,
    wait_for_port,
)
from contracts.yamlconfig import load_yaml_model
from edge.registry import default_model, default_registry_path, package_file

logger = logging.getLogger(__name__)


class DemoConfig(BaseModel):
    """Settings of the demo; every field has a working default."""

    model_config = ConfigDict(extra="forbid")

    workdir: Path = Field(Path("var/demo"), description="Where the demo keeps its files.")
    mqtt_host: str = Field("127.0.0.1", description="Broker host to use or start.")
    mqtt_port: int = Field(1883, ge=1, le=65535, description="Broker port to use or start.")
    http_host: str = Field("127.0.0.1", description="Address the review server binds.")
    http_port: int = Field(8000, ge=0, le=65535, description="Review server port; 0 = any free.")
    clip_seconds: float = Field(60.0, ge=10, le=600, description="Length of the sample clip.")
    clip_seed: int = Field(2024, description="Scene-generator seed of the sample clip.")
    model: Path = Field(
        default_factory=default_model,
        description="Detector model (ONNX); the model registry's default when omitted.",
    )
    model_registry: Path | None = Field(
        default_factory=default_registry_path,
        description="Registry the model must be listed in (the packaged one); null: no check.",
    )
    zones: Path = Field(
        default_factory=lambda: package_file("civicwatch.configs", "zones", "demo-cam.yaml"),
        description="Zone file of the camera; the packaged demo zone file when omitted.",
    )
    units: Path = Field(
        default_factory=lambda: package_file("civicwatch.configs", "units.yaml"),
        description="Units tree and camera registry of the demo city (configs/units.yaml).",
    )
    login: bool = Field(
        False, description="Require a login (the demo's accounts, printed at start)."
    )
    clips: bool = Field(
        True, description="Event clips: the edge uploads an MP4 around each case start."
    )


DEMO_ACCOUNTS: tuple[tuple[str, str, str | None, str], ...] = (
    # (user name, role, unit, what it shows)
    ("city-admin", "admin", None, "市 city admin: everything"),
    ("huangpu-dispatch", "dispatcher", "sh-huangpu", "区 dispatcher: dispatch, verify, close"),
    ("nanjingdong-review", "reviewer", "sh-huangpu-nanjingdong", "街镇 reviewer: 立案 / reject"),
    ("nanjingdong-team", "team", "sh-huangpu-nanjingdong-team1", "街镇 team: disposal photos"),
)
"""One account per level of the demo city."""

EDGE_ID = "demo-edge"
EDGE_ACCOUNT = (EDGE_ID, "edge", None, "the demo edge's HTTP login: uploads event clips")
"""The edge's own account (named like the edge, as clip uploads require)."""

CLIP_PRE_S, CLIP_POST_S = 10.0, 5.0
"""Seconds of the event clip before and after the case start (the clip comes post_s after)."""


def _abs(path: Path) -> Path:
    """``path`` made absolute against the directory the demo was started in."""
    return path.absolute()


def _load(config_path: Path | None) -> DemoConfig:
    if config_path is None:
        return DemoConfig()
    return load_yaml_model(config_path, DemoConfig, expected="a mapping of demo settings")


class Demo:
    """The demo's child processes; ``stop()`` ends them all."""

    def __init__(self, config: DemoConfig) -> None:
        self.config = config
        self.workdir = _abs(config.workdir)
        self.children: list[subprocess.Popen[bytes]] = []
        self.broker: MosquittoProcess | None = None
        self.mqtt_protocol = "5"

    def _spawn(
        self, name: str, args: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=None if env is None else {**os.environ, **env},
        )
        self.children.append(proc)
        return proc

    def ensure_broker(self) -> None:
        host, port = self.config.mqtt_host, self.config.mqtt_port
        if not is_loopback(host):
            raise ValueError(
                f"mqtt_host {host}: the demo's broker is open to anonymous clients, so it "
                "runs on loopback only; deploy with 'civicwatch keys mosquitto' instead"
            )
        if port_open(host, port):
            print(f"MQTT: using the broker already listening on {host}:{port}")
            return
        if find_mosquitto() is None and not install_mosquitto():
            print(
                "MQTT: Mosquitto is not installed and cannot be installed here (not root); "
                f"starting the embedded Python broker (amqtt, MQTT 3.1.1) on {host}:{port}"
            )
            self._spawn(
                "broker",
                ["-m", "civicwatch.embedded_broker", "--host", host, "--port", str(port)],
            )
            wait_for_port(host, port, 20)
            print("MQTT: the embedded broker lets anonymous clients in: loopback only (demo)")
            self.mqtt_protocol = "3.1.1"
            return
        self.broker = start_mosquitto(self.workdir / "mosquitto", host=host, port=port)
        print(
            f"MQTT: started Mosquitto on {host}:{port}, open to anonymous clients on loopback "
            "only (demo; a deployment uses 'civicwatch keys mosquitto')"
        )

    def make_clip(self) -> Path:
        from training.scenes import render_scenario

        clip = self.workdir / f"stall_setup_{self.config.clip_seed}.mp4"
        if not clip.exists():
            print(f"Rendering the sample clip {clip} ({self.config.clip_seconds:.0f} s) ...")
            render_scenario(
                "stall_setup", clip, seconds=self.config.clip_seconds, seed=self.config.clip_seed
            )
        return clip

    def provision_key(self, server_yaml: Path) -> Path:
        """The demo edge's chain signing key, created once and registered with the server."""
        keys = self.workdir / "keys"
        private = keys / f"{EDGE_ID}.key"
        if not private.exists():
            self._cli("keys", "create", "--edge-id", EDGE_ID, "--out", str(keys))
        self._cli(
            "keys",
            "register",
            "--edge-id",
            EDGE_ID,
            "--public-key",
            str(keys / f"{EDGE_ID}.pub"),
            "--config",
            str(server_yaml),
        )
        return private

    def _cli(self, *args: str) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "civicwatch", *args],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"civicwatch {' '.join(args[:2])} failed: {done.stderr.strip()}")

    def seed_city(self, server_yaml: Path) -> dict[str, str]:
        """Load the demo city's units and make its accounts and the edge's (once); their
        passwords."""
        from server import auth
        from server.cli import server_database
        from server.core.db import utcnow
        from server.org.units import load_units
        from server.tables import User, UserRole

        store = self.workdir / "accounts.yaml"
        known: dict[str, str] = {}
        if store.exists():
            loaded = yaml.safe_load(store.read_text(encoding="utf-8")) or {}
            known = {str(k): str(v) for k, v in loaded.items()}
        with server_database(server_yaml) as factory:
            load_units(factory, _abs(self.config.units), now=utcnow())
            with factory() as session, session.begin():
                for name, role, unit, _ in (*DEMO_ACCOUNTS, EDGE_ACCOUNT):
                    if name in known and session.get(User, name) is not None:
                        continue
                    known[name] = secrets.token_urlsafe(12)
                    auth.create_user(
                        session,
                        username=name,
                        password=known[name],
                        role=UserRole(role),
                        now=utcnow(),
                        unit_id=unit,
                    )
        store.touch(mode=0o600)
        store.write_text(yaml.safe_dump(known, sort_keys=False), encoding="utf-8")
        return known

    def print_accounts(self, passwords: dict[str, str], url: str) -> None:
        how = (
            f"log in at {url}/login"
            if self.config.login
            else "the pages are open without a login (--login requires one)"
        )
        print(f"Demo city: 上海市 > 黄浦区, 静安区 > 3 街镇, a team each; {how}. Accounts:")
        for name, _, unit, what in DEMO_ACCOUNTS:
            password = passwords.get(name, "?")
            print(f"  {name:<20} {password:<18} {unit or '(whole city)':<30} {what}")
        if self.config.clips:
            edge_password = passwords.get(EDGE_ID, "?")
            print(f"  {EDGE_ID:<20} {edge_password:<18} {'(the edge)':<30} {EDGE_ACCOUNT[3]}")
        print(f"  (passwords kept in {self.workdir / 'accounts.yaml'})\n")

    def write_configs(self, clip: Path, http_port: int) -> tuple[Path, Path]:
        cfg = self.config
        broker = {"host": cfg.mqtt_host, "port": cfg.mqtt_port, "protocol": self.mqtt_protocol}
        server_cfg = {
            "database_url": f"sqlite:///{self.workdir / 'civicwatch.db'}",
            "evidence_dir": str(self.workdir / "evidence"),
            "mqtt": broker,
            "http_host": cfg.http_host,
            "http_port": http_port,
            "units_file": str(_abs(cfg.units)),
            "auth_enabled": cfg.login,
        }
        edge_cfg: dict[str, object] = {
            "edge_id": EDGE_ID,
            "mqtt": broker,
            "detector": {"type": "yolo", "path": str(_abs(cfg.model))},
            "model_registry": None if cfg.model_registry is None else str(_abs(cfg.model_registry)),
            "outbox_path": str(self.workdir / "edge-outbox.db"),
            "chain": {"key_file": str(self.workdir / "keys" / f"{EDGE_ID}.key")},
            "cameras": [
                {
                    "id": "demo-cam",
                    "source": {"type": "file", "path": str(clip), "loop": True, "realtime": True},
                    "zones": str(_abs(cfg.zones)),
                    "analysis_fps": 2.0,
                }
            ],
        }
        if cfg.clips:  # the edge logs in with CIVICWATCH_EDGE_HTTP_* (run() sets them)
            edge_cfg["clips"] = {
                "enabled": True,
                "pre_s": CLIP_PRE_S,
                "post_s": CLIP_POST_S,
                "spool_dir": str(self.workdir / "edge-clips"),
                "upload": {"url": f"http://{_reachable(cfg.http_host)}:{http_port}"},
            }
        server_path = self.workdir / "server.yaml"
        edge_path = self.workdir / "edge.yaml"
        server_path.write_text(yaml.safe_dump(server_cfg, sort_keys=False))
        edge_path.write_text(yaml.safe_dump(edge_cfg, sort_keys=False))
        return server_path, edge_path

    def run(self) -> int:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.ensure_broker()
        clip = self.make_clip()
        http_port = self.config.http_port
        if http_port == 0 or port_open(self.config.http_host, http_port):
            http_port = free_port(self.config.http_host)
        server_yaml, edge_yaml = self.write_configs(clip, http_port)
        self.provision_key(server_yaml)
        accounts = self.seed_city(server_yaml)
        server = self._spawn("server", ["-m", "civicwatch", "server", "--config", str(server_yaml)])
        url = f"http://{self.config.http_host}:{http_port}"
        if not _wait_http(f"{url}/healthz", 60, server):
            print(f"The server did not start; see {self.workdir / 'server.log'}")
            return 1
        login = {  # the names are ClipUploadConfig's defaults
            "CIVICWATCH_EDGE_HTTP_USERNAME": EDGE_ID,
            "CIVICWATCH_EDGE_HTTP_PASSWORD": accounts[EDGE_ID],
        }
        edge = self._spawn(
            "edge", ["-m", "civicwatch", "edge", "--config", str(edge_yaml)], env=login
        )
        print(f"Server: {url}  (API docs {url}/docs)")
        print(f"Edge: reading {clip.name} as camera 'demo-cam'; logs in {self.workdir}")
        print(f"\n  Review page: {url}/\n")
        self.print_accounts(accounts, url)
        print(
            "A stall appears a few seconds into the clip; after the zone's dwell time a "
            "candidate case with its snapshots shows up"
            + (f", and its event clip {CLIP_POST_S:.0f} s later" if self.config.clips else "")
            + ". Ctrl-C stops the demo."
        )
        while True:
            for proc, name in ((server, "server"), (edge, "edge")):
                if proc.poll() is not None:
                    print(f"The {name} exited ({proc.returncode}); see {self.workdir}/{name}.log")
                    return 1
            time.sleep(0.5)

    def stop(self) -> None:
        for proc in reversed(self.children):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.children):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if self.broker is not None:
            self.broker.stop()


def _reachable(host: str) -> str:
    """An address of this machine that reaches a server bound to ``host``."""
    if host in ("", "0.0.0.0"):  # every IPv4 address: loopback is one
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _wait_http(url: str, timeout_s: float, proc: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status < 500:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    return False


def run_demo(args: argparse.Namespace) -> int:
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # progress lines show up at once
    config = _load(args.config)
    if args.port is not None:
        config = config.model_copy(update={"http_port": args.port})
    if args.login:
        config = config.model_copy(update={"login": True})
    demo = Demo(config)

    def _interrupt(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # Ctrl-C, and SIGTERM from a supervisor, both stop the children cleanly (explicit, since
    # a shell that starts the demo in the background leaves SIGINT ignored).
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return demo.run()
    except KeyboardInterrupt:
        print("\nStopping the demo ...")
        return 0
    finally:
        # a second Ctrl-C (or a supervisor's repeated SIGTERM) must not cut the clean stop short
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        demo.stop()


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run broker, server and an edge on a sample clip; prints the review URL",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="demo config YAML (fields of DemoConfig); embedded defaults when omitted",
    )
    parser.add_argument(
        "--port", type=int, default=None, help="review server port (default 8000, or a free one)"
    )
    parser.add_argument(
        "--login",
        action="store_true",
        help="require a login; the demo's accounts (one per level) are printed at start",
    )
    parser.set_defaults(func=run_demo)
