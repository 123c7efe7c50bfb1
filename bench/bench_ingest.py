"""Benchmark: MQTT ingest from publish to committed case row, on loopback.

An in-process :class:`server.ingest.MqttIngest` subscribes to a real Mosquitto (a private
one is started unless ``--broker`` is given) and writes to SQLite (default) or the
database named by ``--database-url``. A simulated edge (:mod:`bench.sim_edge`: its own
Ed25519 chain key, registered like a real edge's) publishes, per event, a 1280x720
annotated JPEG, a crop, the event JSON and its signed chain record (QoS 1, MQTT v5); the
case is committed when the event and its record are both in.

For each ``--configs`` entry (``BATCHxCOMMITTERS``: group commit size and committer
threads; ``1x1`` is one transaction per message, the ingest before group commits), in
the same run and each on a fresh database:

* ``paced``: events at ``--rate`` per second; latency = commit of the case minus the
  publish call of its event message (median, p90, p99, max).
* ``burst``: ``--burst`` events of ``--edges`` edges published while the server is away
  (the broker keeps them in its persistent session), then the server connects;
  throughput in events per second from its connect to the last case committed (what
  the server takes, not what one Python publisher can send).

Usage::

    .venv/bin/python bench/bench_ingest.py --events 200 --rate 20 --burst 1000
    .venv/bin/python bench/bench_ingest.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench

This is a measurement, not a test; results go to ``bench/RESULTS.md`` by hand.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from sqlalchemy import Engine, event

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sim_edge import (
    SimEdge,
    WireMessage,
    make_event,
    register_edges,
    street_evidence,
    tagged,
)

from server.core.config import load_settings
from server.core.db import make_engine, make_session_factory, run_migrations
from server.evidence_store import EvidenceStore
from server.ingest import (
    IngestContext,
    IngestLimits,
    IngestMetrics,
    IngestOutcome,
    MqttIngest,
)

logger = logging.getLogger("bench_ingest")

EDGE = "bench-edge"
CAMERA = "bench-cam"


BENCH_LIMITS = IngestLimits(edge_event_rate_per_s=10_000.0, edge_event_burst=1_000_000)
"""The default limits but no per-edge rate limit: one simulated edge sends the whole burst."""


class StatementCounter:
    """Counts the SQL statements an engine sends (``before_cursor_execute``)."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: object) -> None:
        self.count += 1


class TimedMetrics(IngestMetrics):
    """Counters plus the commit time of every case commit (arrival order).

    A case is committed by the event message when its chain record is already in
    (``event``), else by the record that lets it out of the quarantine (``chain`` with a
    case id).
    """

    def __init__(self) -> None:
        super().__init__()
        self.event_done: list[float] = []
        self.latency_s: list[float] = []
        self.cond = threading.Condition()

    def record(self, outcome: IngestOutcome) -> None:
        super().record(outcome)
        if outcome.code == "event" or (outcome.code == "chain" and outcome.case_id is not None):
            with self.cond:
                self.event_done.append(time.perf_counter())
                if outcome.sent_at is not None:
                    self.latency_s.append((datetime.now(UTC) - outcome.sent_at).total_seconds())
                self.cond.notify_all()

    def wait_for(self, n: int, timeout_s: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: len(self.event_done) >= n, timeout_s)


@dataclass(frozen=True)
class RunningIngest:
    """The server's MQTT ingest, running, with its database engine and timed metrics."""

    ingest: MqttIngest
    metrics: TimedMetrics
    engine: Engine
    statements: StatementCounter

    def stop(self) -> None:
        self.ingest.stop()
        self.engine.dispose()


def start_ingest(
    work: Path,
    *,
    host: str,
    port: int,
    database_url: str | None = None,
    limits: IngestLimits = BENCH_LIMITS,
    batch_max: int = 128,
    committers: int = 2,
    client_id: str | None = None,
    shared_group: str | None = None,
    wait: bool = True,
) -> RunningIngest:
    """Start the server's ingest on ``host:port``; evidence under ``work``, SQLite by default.

    Raises:
        SystemExit: If ``wait`` and it does not subscribe within 15 s.
    """
    settings = load_settings(
        None,
        database_url=database_url or f"sqlite:///{work / 'cases.db'}",
        evidence_dir=work / "evidence",
        dead_letter_dir=work / "dead-letter",
        mqtt={
            "host": host,
            "port": port,
            "client_id": client_id or f"bench-server-{uuid.uuid4().hex[:6]}",
        },
        ingest={"batch_max": batch_max, "committers": committers, "shared_group": shared_group},
    )
    engine = make_engine(settings.database_url)
    run_migrations(engine)
    statements = StatementCounter(engine)
    metrics = TimedMetrics()
    ingest = MqttIngest(
        settings=settings,
        session_factory=make_session_factory(engine),
        context=IngestContext(store=EvidenceStore(settings.evidence_dir), limits=limits),
        metrics=metrics,
    )
    ingest.start()
    running = RunningIngest(ingest, metrics, engine, statements)
    if wait and not ingest.wait_connected(15):
        running.stop()
        raise SystemExit(f"ingest could not subscribe on {host}:{port}")
    return running


@dataclass(frozen=True)
class Prepared:
    """One event's messages in publish order (evidence, event, chain record)."""

    messages: list[WireMessage]


def prepare(edge: SimEdge, n: int, t0: datetime) -> list[Prepared]:
    """``n`` events of ``edge`` with their own evidence, built before any timing starts."""
    evidence = street_evidence()
    out = []
    for i in range(n):
        tag = f"{edge.edge_id} {t0.isoformat()} #{i}"
        blobs = [
            ("annotated", tagged(evidence.annotated, tag)),
            ("crop", tagged(evidence.crop, tag)),
        ]
        event = make_event(
            edge_id=edge.edge_id, camera_id=CAMERA, fired_at=t0 + timedelta(seconds=i), blobs=blobs
        )
        out.append(Prepared(messages=edge.messages(event, [data for _, data in blobs])))
    return out


def publish(
    client: mqtt.Client, item: Prepared, sent: list[mqtt.MQTTMessageInfo] | None = None
) -> float:
    """Publish one event's messages; returns the perf_counter time of the event publish.

    Args:
        sent: Collects each publish's info (to wait for the broker's PUBACKs).
    """
    stamp = 0.0
    for message in item.messages:
        if "/events/" in message.topic:
            stamp = time.perf_counter()
        info = client.publish(
            message.topic, message.payload, qos=1, properties=message.properties()
        )
        if sent is not None:
            sent.append(info)
    return stamp


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def _edge_client(host: str, port: int) -> mqtt.Client:
    edge = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"bench-edge-{uuid.uuid4().hex[:6]}",
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    edge.max_inflight_messages_set(100)
    edge.connect(host, port)
    edge.loop_start()
    return edge


@dataclass(frozen=True)
class Config:
    """One ingest configuration: group commit size and committer threads."""

    batch_max: int
    committers: int

    @classmethod
    def parse(cls, text: str) -> Config:
        """``BATCHxCOMMITTERS``, e.g. ``128x2``."""
        batch, _, committers = text.partition("x")
        return cls(int(batch), int(committers or 1))

    @property
    def label(self) -> str:
        return f"batch_max {self.batch_max}, committers {self.committers}"


@dataclass(frozen=True)
class RunResult:
    """One configuration's numbers."""

    config: Config
    paced_ms: list[float]
    burst_events: int
    burst_s: float
    cpu_s: float
    batches: int
    batched: int
    statements: int


def fresh_database(url: str, tag: str) -> str:
    """A new empty PostgreSQL database on the server of ``url``; SQLite: a new file."""
    if url.startswith("sqlite"):
        return url.replace(".db", f"-{tag}.db")
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = f"{parsed.database}_{tag}"
    admin = parsed.set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return parsed.set(database=name).render_as_string(hide_password=False)


def run_one(
    work: Path, *, host: str, port: int, database_url: str, config: Config, args: argparse.Namespace
) -> RunResult:
    """Paced latency (one edge), then a burst of ``--edges`` edges drained after a reconnect."""
    tag = f"b{config.batch_max}c{config.committers}"
    database_url = fresh_database(database_url, tag)
    edges = [SimEdge(f"bench-edge-{tag}-{i}") for i in range(args.edges)]
    client_id = f"bench-server-{tag}-{uuid.uuid4().hex[:6]}"

    def start(wait: bool) -> RunningIngest:
        return start_ingest(
            work,
            host=host,
            port=port,
            database_url=database_url,
            batch_max=config.batch_max,
            committers=config.committers,
            client_id=client_id,
            wait=wait,
        )

    server = start(True)
    register_edges(make_session_factory(server.engine), edges)
    t0 = datetime.now(UTC)
    paced = prepare(edges[0], args.events, t0 - timedelta(seconds=args.events + args.burst + 60))
    per_edge = [
        prepare(edge, args.burst // len(edges), t0 - timedelta(seconds=args.burst + 30))
        for edge in edges
    ]
    burst = [item for group in zip(*per_edge, strict=True) for item in group]
    client = _edge_client(host, port)
    try:
        published: list[float] = []
        interval = 1.0 / args.rate
        begin = time.perf_counter()
        for i, item in enumerate(paced):
            delay = begin + i * interval - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            published.append(publish(client, item))
        metrics = server.metrics
        if not metrics.wait_for(len(paced), 120):
            raise SystemExit(f"only {len(metrics.event_done)} of {len(paced)} events arrived")
        paced_ms = [
            (done - sent) * 1000 for done, sent in zip(metrics.event_done, published, strict=True)
        ]
        server.stop()  # away: the broker keeps the burst in the persistent session
        sent: list[mqtt.MQTTMessageInfo] = []
        for item in burst:
            publish(client, item, sent)
        for info in sent:
            info.wait_for_publish(timeout=120)  # the broker has it (PUBACK)
        cpu0 = time.process_time()
        server = start(False)
        begin = time.perf_counter()
        if not server.metrics.wait_for(len(burst), 300):
            raise SystemExit(f"burst: {len(server.metrics.event_done)} of {len(burst)} cases")
        elapsed = server.metrics.event_done[-1] - begin
        cpu = time.process_time() - cpu0
        counts = server.metrics.snapshot()
        return RunResult(
            config,
            paced_ms,
            len(burst),
            elapsed,
            cpu,
            counts.batches,
            counts.batched_messages,
            server.statements.count,
        )
    finally:
        client.disconnect()
        client.loop_stop()
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200, help="events in the paced phase")
    parser.add_argument("--rate", type=float, default=20.0, help="paced events per second")
    parser.add_argument("--burst", type=int, default=1000, help="events in the burst phase")
    parser.add_argument("--edges", type=int, default=10, help="edges sending the burst")
    parser.add_argument(
        "--configs",
        type=Config.parse,
        nargs="+",
        default=[Config(1, 1), Config(128, 1), Config(128, 2)],
        help="BATCHxCOMMITTERS to compare in this run (1x1: a transaction per message)",
    )
    parser.add_argument("--broker", help="HOST:PORT of a running broker (else a private one)")
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: SQLite in a temp dir)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    broker_proc = None
    if args.broker:
        host, port_text = args.broker.rsplit(":", 1)
        port = int(port_text)
    else:
        from civicwatch.services import start_mosquitto

        broker_proc = start_mosquitto(work / "mosquitto")
        host, port = broker_proc.host, broker_proc.port
    database_url = args.database_url or f"sqlite:///{work / 'cases.db'}"
    sample = street_evidence()
    print(
        f"per event: annotated {len(sample.annotated)} B, crop {len(sample.crop)} B, "
        f"event JSON ~1 KB, chain record ~0.7 KB; load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    try:
        for config in args.configs:
            result = run_one(
                work, host=host, port=port, database_url=database_url, config=config, args=args
            )
            ms = result.paced_ms
            rate = result.burst_events / result.burst_s
            print(
                f"{config.label} ({database_url.split(':')[0]}): paced {len(ms)} at "
                f"{args.rate:g}/s: publish->case median {statistics.median(ms):.1f} ms, "
                f"p90 {percentile(ms, 90):.1f}, p99 {percentile(ms, 99):.1f}, "
                f"max {max(ms):.1f}; burst {result.burst_events} events of {args.edges} edges "
                f"in {result.burst_s:.2f} s: {rate:.0f} events/s ({4 * rate:.0f} messages/s; "
                f"{result.batched / max(1, result.batches):.1f} messages per commit; "
                f"{1000 * result.cpu_s / result.burst_events:.1f} ms CPU of this process and "
                f"{result.statements / result.burst_events:.1f} SQL statements per event); "
                f"load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    finally:
        if broker_proc is not None:
            broker_proc.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
