"""Load test: 50 simulated edges against 1 and 2 ingest replicas, all on loopback.

Each edge (:class:`sim_edge.SimEdge`) has its own MQTT client and Ed25519 chain key,
registered on the server like a real edge's, and sends a realistic mix of incidents:
stalls, cross-door goods and construction (stationary: ``start`` with an annotated frame
and a crop, an ``update`` with a new frame in half of them, an ``end``) and muck trucks
(``start`` with annotated frame, crop and plate crop, then ``end``), evidence from one
textured 1280x720 frame at JPEG quality 85 (~130 KB) and its crops, each event's copies
made distinct by a JPEG comment. Events arrive per edge as a Poisson process at
``--rate-per-edge``; the edges run in processes of 10 edges each, apart from the
replicas, so the load generator does not share a GIL with the server.

The replicas are separate processes running the server's :class:`server.ingest.MqttIngest`
with one ``ingest.shared_group`` (MQTT 5 shared subscriptions), their own client ids, one
PostgreSQL database (a fresh one per run) and one evidence directory. Latency is from
the rule firing (the event's ``last_seen``, which the simulated edge also sends as
``sent_at``, publishing at once) to the commit of the case row it creates or updates,
taken by each replica at the commit; p50/p99 over every committed event message.

Usage::

    .venv/bin/python bench/bench_load.py --duration 45 --rate-per-edge 0.2 --replicas 1 2

This is a measurement, not a test; results go to ``bench/RESULTS.md`` by hand.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ingest import fresh_database, percentile, start_ingest
from sim_edge import (
    Evidence,
    SimEdge,
    WireMessage,
    make_event,
    register_edges,
    street_evidence,
    tagged,
)

from server.core.db import make_engine, make_session_factory, run_migrations
from server.ingest import IngestLimits

logger = logging.getLogger("bench_load")

EDGES_PER_PROCESS = 10
GROUP = "bench-load"
STATIONARY = ("street_stall", "cross_door", "construction")
"""Violation types watched by stationary cameras (one look every few seconds)."""
TRUCK_SHARE = 0.2
"""Share of incidents that are muck trucks (road cameras)."""


@dataclass(frozen=True)
class Plan:
    """What one edge process sends: its edges' keys (PEM private keys) and the pacing."""

    edge_ids: list[str]
    key_pems: list[bytes]
    host: str
    port: int
    rate_per_edge: float
    duration_s: float
    seed: int


def _edge_keys(edge_ids: list[str]) -> list[SimEdge]:
    return [SimEdge(edge_id) for edge_id in edge_ids]


def _pem(edge: SimEdge) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return edge.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass
class _Incident:
    """An open incident of an edge: its event, camera, rule and messages still to send."""

    event_id: str
    camera_id: str
    rule: str
    left: int


class _Incidents:
    """One edge's open incidents and what each sends next."""

    def __init__(self, edge: SimEdge, evidence: Evidence, rng: random.Random) -> None:
        self.edge = edge
        self.evidence = evidence
        self.rng = rng
        self.open: list[_Incident] = []
        self.count = 0

    def _blobs(self, rule: str, phase: str, tag: str) -> list[tuple[str, bytes]]:
        ev = self.evidence
        if phase == "end":
            return []
        if phase == "update":
            return [("annotated", tagged(ev.annotated, tag))]
        blobs = [("annotated", tagged(ev.annotated, tag)), ("crop", tagged(ev.crop, tag))]
        if rule == "muck_truck":
            blobs.append(("plate", tagged(ev.crop, tag + " plate")))
        return blobs

    def next_messages(self, now: datetime) -> list[WireMessage]:
        """The next event of this edge (a new incident or the next step of an open one)."""
        self.count += 1
        tag = f"{self.edge.edge_id} {self.count} {uuid.uuid4().hex[:8]}"
        if self.open and self.rng.random() < 0.5:
            incident = self.open.pop(0)
            incident.left -= 1
            phase = "update" if incident.left > 0 else "end"
            if incident.left > 0:
                self.open.append(incident)
        else:
            rule = "muck_truck" if self.rng.random() < TRUCK_SHARE else self.rng.choice(STATIONARY)
            steps = 1 if rule == "muck_truck" else self.rng.choice((1, 2))
            incident = _Incident(uuid.uuid4().hex, f"cam-{self.rng.randrange(8)}", rule, steps)
            self.open.append(incident)
            phase = "start"
        blobs = self._blobs(incident.rule, phase, tag)
        event = make_event(
            edge_id=self.edge.edge_id,
            camera_id=incident.camera_id,
            fired_at=now,
            blobs=blobs,
            event_id=incident.event_id,
            phase=phase,
            rule=incident.rule,
        )
        return self.edge.messages(event, [data for _, data in blobs])


def run_edges(plan: Plan, out: str) -> None:
    """One edge process: its edges, each on its own MQTT client and thread, for the duration."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    evidence = street_evidence()
    sent = [0] * len(plan.edge_ids)
    stop_at = time.monotonic() + plan.duration_s

    def edge_loop(index: int) -> None:
        key = load_pem_private_key(plan.key_pems[index], password=None)
        assert isinstance(key, Ed25519PrivateKey)
        edge = SimEdge(plan.edge_ids[index], key=key)
        rng = random.Random(plan.seed * 1000 + index)
        incidents = _Incidents(edge, evidence, rng)
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"{edge.edge_id}",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        client.max_inflight_messages_set(50)
        client.connect(plan.host, plan.port)
        client.loop_start()
        infos = []
        try:
            next_at = time.monotonic() + rng.expovariate(plan.rate_per_edge)
            while True:
                delay = next_at - time.monotonic()
                if next_at > stop_at:
                    break
                if delay > 0:
                    time.sleep(delay)
                for message in incidents.next_messages(datetime.now(UTC)):
                    info = client.publish(
                        message.topic, message.payload, qos=1, properties=message.properties()
                    )
                    infos.append(info)
                sent[index] += 1
                next_at += rng.expovariate(plan.rate_per_edge)
            for info in infos:
                info.wait_for_publish(timeout=60)
        finally:
            client.disconnect()
            client.loop_stop()

    threads = [threading.Thread(target=edge_loop, args=(i,)) for i in range(len(plan.edge_ids))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    Path(out).write_text(json.dumps({"sent": sum(sent)}), encoding="utf-8")


def run_replica(
    database_url: str, host: str, port: int, client_id: str, group: str, work: str
) -> None:
    """One server replica's ingest until SIGTERM; then its latencies go to a JSON file."""
    logging.basicConfig(level=logging.ERROR)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    cpu0 = time.process_time()
    server = start_ingest(
        Path(work),
        host=host,
        port=port,
        database_url=database_url,
        limits=IngestLimits(),
        client_id=client_id,
        shared_group=group,
    )
    Path(work, f"{client_id}.ready").touch()
    stop.wait()
    server.stop()
    counts = server.metrics.snapshot()
    Path(work, f"{client_id}.json").write_text(
        json.dumps(
            {
                "latency_s": server.metrics.latency_s,
                "commits": len(server.metrics.event_done),
                "cpu_s": time.process_time() - cpu0,
                "batches": counts.batches,
                "batched": counts.batched_messages,
                "rejected": counts.rejected,
            }
        ),
        encoding="utf-8",
    )


@dataclass(frozen=True)
class LoadResult:
    """One run's numbers."""

    replicas: int
    sent: int
    committed: int
    duration_s: float
    drain_s: float
    latency_s: list[float]
    cpu_s: float
    messages_per_commit: float
    load: float


def run_load(
    args: argparse.Namespace, host: str, port: int, replicas: int, work: Path
) -> LoadResult:
    """Start ``replicas`` replicas and the edges; wait until every sent event is committed."""
    ctx = multiprocessing.get_context("spawn")
    database_url = fresh_database(args.database_url, f"load{replicas}")
    engine = make_engine(database_url)
    run_migrations(engine)
    edges = _edge_keys([f"load-edge-{replicas}-{i:02d}" for i in range(args.edges)])
    run_dir = work / f"replicas-{replicas}"
    run_dir.mkdir()
    # A group of its own: the stopped replicas of an earlier run keep their persistent
    # sessions in their group, and Mosquitto would still give them their share.
    group = f"{GROUP}-{replicas}-{uuid.uuid4().hex[:6]}"
    servers = []
    for n in range(replicas):
        client_id = f"load-server-{replicas}-{n + 1}"
        process = ctx.Process(
            target=run_replica, args=(database_url, host, port, client_id, group, str(run_dir))
        )
        process.start()
        servers.append((client_id, process))
    for client_id, _ in servers:
        deadline = time.monotonic() + 60
        while not (run_dir / f"{client_id}.ready").exists():
            if time.monotonic() > deadline:
                raise SystemExit(f"replica {client_id} did not subscribe")
            time.sleep(0.1)
    register_edges(make_session_factory(engine), edges)  # after the first connect
    engine.dispose()
    generators = []
    started = time.monotonic()
    for p, first in enumerate(range(0, len(edges), EDGES_PER_PROCESS)):
        batch = edges[first : first + EDGES_PER_PROCESS]
        plan = Plan(
            edge_ids=[e.edge_id for e in batch],
            key_pems=[_pem(e) for e in batch],
            host=host,
            port=port,
            rate_per_edge=args.rate_per_edge,
            duration_s=args.duration,
            seed=p,
        )
        out = run_dir / f"edges-{p}.json"
        process = ctx.Process(target=run_edges, args=(plan, str(out)))
        process.start()
        generators.append((out, process))
    for _, process in generators:
        process.join()
    sent_done = time.monotonic()
    sent = sum(json.loads(out.read_text())["sent"] for out, _ in generators)
    engine = make_engine(database_url)
    from sqlalchemy import func, select

    from server.tables import CaseEvent

    deadline = time.monotonic() + 120
    committed = 0
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            committed = conn.scalar(select(func.count()).select_from(CaseEvent)) or 0
        if committed >= sent:
            break
        time.sleep(0.5)
    drained = time.monotonic()
    load = os.getloadavg()[0]
    engine.dispose()
    for _, process in servers:
        process.terminate()
    latencies: list[float] = []
    cpu = 0.0
    batches = batched = 0
    for client_id, process in servers:
        process.join(30)
        data = json.loads((run_dir / f"{client_id}.json").read_text())
        latencies += data["latency_s"]
        cpu += data["cpu_s"]
        batches += data["batches"]
        batched += data["batched"]
        if data["rejected"]:
            logger.warning("replica %s refused %s", client_id, data["rejected"])
    return LoadResult(
        replicas=replicas,
        sent=sent,
        committed=committed,
        duration_s=sent_done - started,
        drain_s=drained - sent_done,
        latency_s=latencies,
        cpu_s=cpu,
        messages_per_commit=batched / max(1, batches),
        load=load,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edges", type=int, default=50, help="simulated edges")
    parser.add_argument("--rate-per-edge", type=float, default=0.2, help="events/s per edge")
    parser.add_argument("--duration", type=float, default=45.0, help="seconds of sending")
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2], help="runs to make")
    parser.add_argument(
        "--database-url",
        default="postgresql+psycopg://postgres@127.0.0.1/civicwatch_load",
        help="PostgreSQL URL; each run gets a fresh database named after it",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from civicwatch.services import start_mosquitto

    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    broker = start_mosquitto(work / "mosquitto")
    try:
        for replicas in args.replicas:
            r = run_load(args, broker.host, broker.port, replicas, work)
            lat = r.latency_s or [float("nan")]
            print(
                f"{replicas} replica(s), {args.edges} edges at {args.rate_per_edge:g} events/s "
                f"each for {r.duration_s:.0f} s: sent {r.sent} events "
                f"({r.sent / r.duration_s:.0f}/s), committed {r.committed} "
                f"({r.committed / (r.duration_s + r.drain_s):.0f}/s incl. {r.drain_s:.1f} s "
                f"drain); rule fired -> case committed p50 {statistics.median(lat) * 1000:.0f} "
                f"ms, p99 {percentile(lat, 99) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms; "
                f"replica CPU {1000 * r.cpu_s / max(1, r.committed):.1f} ms per event, "
                f"{r.messages_per_commit:.1f} messages per commit; load {r.load:.1f}",
                flush=True,
            )
    finally:
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
