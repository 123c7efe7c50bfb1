"""Benchmark: MQTT ingest from publish to committed case row, on loopback.

An in-process :class:`server.ingest.MqttIngest` subscribes to a real Mosquitto (a private
one is started unless ``--broker`` is given) and writes to SQLite (default) or the
database named by ``--database-url``. A paho client posing as an edge publishes, per
event, a 1280x720 annotated JPEG, a crop and then the event JSON (QoS 1, MQTT v5).

Two phases:

* ``paced``: events at ``--rate`` per second; latency = commit of the case row minus
  the publish call of its event message (median, p90, p99, max).
* ``burst``: ``--burst`` events as fast as the publisher can; throughput in events per
  second from the first publish to the last commit.

Usage::

    .venv/bin/python bench/bench_ingest.py --events 200 --rate 20 --burst 300
    .venv/bin/python bench/bench_ingest.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench

This is a measurement, not a test; results go to ``bench/RESULTS.md`` by hand.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import statistics
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import Engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contracts import topics
from contracts.events import ZoneEvent
from server.core.config import load_settings
from server.core.db import make_engine, make_session_factory, run_migrations
from server.evidence_store import EvidenceStore
from server.ingest import (
    IngestContext,
    IngestMetrics,
    IngestOutcome,
    MqttIngest,
)

logger = logging.getLogger("bench_ingest")

EDGE = "bench-edge"
CAMERA = "bench-cam"


class TimedMetrics(IngestMetrics):
    """Counters plus the commit time of every accepted event (arrival order)."""

    def __init__(self) -> None:
        super().__init__()
        self.event_done: list[float] = []
        self.cond = threading.Condition()

    def record(self, outcome: IngestOutcome) -> None:
        super().record(outcome)
        if outcome.code == "event":
            with self.cond:
                self.event_done.append(time.perf_counter())
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

    def stop(self) -> None:
        self.ingest.stop()
        self.engine.dispose()


def start_ingest(
    work: Path, *, host: str, port: int, database_url: str | None = None
) -> RunningIngest:
    """Start the server's ingest on ``host:port``; evidence under ``work``, SQLite by default.

    Raises:
        SystemExit: If it does not subscribe within 15 s.
    """
    settings = load_settings(
        None,
        database_url=database_url or f"sqlite:///{work / 'cases.db'}",
        evidence_dir=work / "evidence",
        mqtt={"host": host, "port": port, "client_id": f"bench-server-{uuid.uuid4().hex[:6]}"},
    )
    engine = make_engine(settings.database_url)
    run_migrations(engine)
    metrics = TimedMetrics()
    ingest = MqttIngest(
        settings=settings,
        session_factory=make_session_factory(engine),
        context=IngestContext(store=EvidenceStore(settings.evidence_dir)),
        metrics=metrics,
    )
    ingest.start()
    running = RunningIngest(ingest, metrics, engine)
    if not ingest.wait_connected(15):
        running.stop()
        raise SystemExit(f"ingest could not subscribe on {host}:{port}")
    return running


@dataclass(frozen=True)
class Prepared:
    """One event's messages: (topic, payload, content type) in publish order."""

    messages: list[tuple[str, bytes, str]]


def _jpeg(image: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    return bytes(encoded.tobytes())


def prepare(n: int, t0: datetime, first_index: int = 0) -> list[Prepared]:
    """Distinct evidence and events, built before any timing starts."""
    base = np.zeros((720, 1280, 3), dtype=np.uint8)
    base[:] = np.linspace(40, 200, 1280, dtype=np.uint8)[None, :, None]
    cv2.rectangle(base, (500, 300), (760, 620), (30, 90, 200), -1)
    out = []
    for i in range(first_index, first_index + n):
        frame = base.copy()
        cv2.putText(frame, f"{t0.isoformat()} #{i}", (20, 50), 0, 1.2, (255, 255, 255), 2)
        cv2.putText(frame, f"#{i}", (520, 360), 0, 1.0, (255, 255, 255), 2)
        cv2.rectangle(frame, (500, 300), (760, 620), (0, 0, 255), 3)
        annotated = _jpeg(frame)
        crop = _jpeg(frame[300:620, 500:760])
        refs = []
        messages = []
        for kind, data in (("annotated", annotated), ("crop", crop)):
            digest = hashlib.sha256(data).hexdigest()
            refs.append(
                {
                    "sha256": digest,
                    "kind": kind,
                    "content_type": "image/jpeg",
                    "byte_size": len(data),
                    "captured_at": t0,
                }
            )
            messages.append((topics.evidence_topic(EDGE, digest), data, "image/jpeg"))
        first = t0 + timedelta(seconds=i - first_index)
        event = ZoneEvent.model_validate(
            {
                "event_id": uuid.uuid4().hex,
                "phase": "start",
                "edge_id": EDGE,
                "camera_id": CAMERA,
                "zone_id": "zone-a",
                "rule": "street_stall",
                "violation_type": "street_stall",
                "label": "stall",
                "confidence": 0.9,
                "box": {"x1": 0.39, "y1": 0.42, "x2": 0.59, "y2": 0.86},
                "first_seen": first,
                "last_seen": first + timedelta(seconds=30),
                "dwell_s": 30.0,
                "model": {"name": "bench", "version": "1", "sha256": "0" * 64},
                "evidence": refs,
                "sent_at": first + timedelta(seconds=30),
            }
        )
        messages.append((topics.event_topic(EDGE, CAMERA), event.to_json(), "application/json"))
        out.append(Prepared(messages=messages))
    return out


def _props(content_type: str) -> Properties:
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.ContentType = content_type
    return props


def publish(client: mqtt.Client, item: Prepared) -> float:
    """Publish one event's messages; returns the perf_counter time of the event publish."""
    stamp = 0.0
    for topic, payload, content_type in item.messages:
        if topic.endswith(f"/events/{CAMERA}"):
            stamp = time.perf_counter()
        client.publish(topic, payload, qos=1, properties=_props(content_type))
    return stamp


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200, help="events in the paced phase")
    parser.add_argument("--rate", type=float, default=20.0, help="paced events per second")
    parser.add_argument("--burst", type=int, default=300, help="events in the burst phase")
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
    server = start_ingest(work, host=host, port=port, database_url=database_url)
    metrics = server.metrics

    t0 = datetime.now(UTC)
    print(f"preparing {args.events + args.burst} events ...", flush=True)
    paced = prepare(args.events, t0)
    burst = prepare(args.burst, t0 + timedelta(days=1), first_index=args.events)
    sizes = [len(p) for item in paced[:1] for _, p, _ in item.messages]
    print(f"per event: annotated {sizes[0]} B, crop {sizes[1]} B, event JSON {sizes[2]} B")

    edge = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"bench-edge-{uuid.uuid4().hex[:6]}",
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    edge.max_inflight_messages_set(100)
    edge.connect(host, port)
    edge.loop_start()
    try:
        published: list[float] = []
        interval = 1.0 / args.rate
        start = time.perf_counter()
        for i, item in enumerate(paced):
            delay = start + i * interval - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            published.append(publish(edge, item))
        if not metrics.wait_for(len(paced), 120):
            raise SystemExit(f"only {len(metrics.event_done)} of {len(paced)} events arrived")
        latencies_ms = [
            (done - sent) * 1000 for done, sent in zip(metrics.event_done, published, strict=True)
        ]
        print(
            f"paced {len(paced)} events at {args.rate:g}/s ({database_url.split(':')[0]}): "
            f"publish->commit median {statistics.median(latencies_ms):.1f} ms, "
            f"p90 {percentile(latencies_ms, 90):.1f} ms, "
            f"p99 {percentile(latencies_ms, 99):.1f} ms, "
            f"max {max(latencies_ms):.1f} ms"
        )

        already = len(metrics.event_done)
        begin = time.perf_counter()
        for item in burst:
            publish(edge, item)
        if not metrics.wait_for(already + len(burst), 300):
            raise SystemExit("burst did not complete")
        elapsed = metrics.event_done[-1] - begin
        mib = sum(len(p) for item in burst for _, p, _ in item.messages) / 2**20
        print(
            f"burst {len(burst)} events ({mib:.1f} MiB incl. evidence): {elapsed:.2f} s, "
            f"{len(burst) / elapsed:.1f} events/s, {3 * len(burst) / elapsed:.0f} messages/s"
        )
        counts = metrics.snapshot()
        print(f"accepted {counts.accepted}, rejected {counts.rejected}")
    finally:
        edge.disconnect()
        edge.loop_stop()
        server.stop()
        if broker_proc is not None:
            broker_proc.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
