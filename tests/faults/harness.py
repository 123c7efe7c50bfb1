"""Fault scenarios against a real Mosquitto and a real database, shared by tests and bench.

Each ``run_*`` function builds its own broker (a private Mosquitto with civicwatch's
configuration), server ingest (in-process, or ``python -m civicwatch server`` as a
subprocess where the fault is killing it) and edges (a real outbox, evidence chain and
publisher; an edge subprocess where the fault is killing it), injects one fault, waits
for delivery and returns :class:`FaultFigures`: events sent, delivered, lost,
duplicated, and whether the edge's chain verifies offline.

``tests/faults/test_faults.py`` runs them with short outages; ``bench/bench_faults.py``
with the long ones and writes the figures to ``bench/RESULTS.md``.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from civicwatch.services import MosquittoProcess, free_port, start_mosquitto
from contracts import topics
from edge.chain import EdgeChain, EdgeKey
from edge.mqtt import MqttConfig, Publisher
from edge.outbox import Outbox, PendingMessage
from server import chain_store
from server.chain_verify import VerifyReport, verify_edge
from server.core.config import load_settings
from server.core.db import make_engine, make_session_factory, run_migrations, utcnow
from server.evidence_store import EvidenceStore
from server.ingest import IngestContext, IngestMetrics, MqttIngest
from server.tables import Case, CaseEvent, ChainIssue, ChainRecordRow, Evidence
from tests.contracts.chain_builders import evidence_ref, fake_jpeg, make_event

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
EVIDENCE_PER_EVENT = 2
MESSAGES_PER_EVENT = EVIDENCE_PER_EVENT + 2  # evidence, the event, its chain record


@dataclass
class FaultFigures:
    """What one fault scenario measured.

    Attributes:
        fault: What was done.
        events_sent: Events the edge(s) enqueued.
        events_delivered: Distinct events stored by the server.
        duplicated: Events stored more than once (cases or event messages).
        redeliveries_absorbed: Messages the server received again and recognised.
        chain_verified: ``civicwatch evidence verify --edge`` passed for every edge.
        findings: Verifier errors, if any.
        seconds: Wall time of the scenario.
        notes: Scenario parameters.
    """

    fault: str
    events_sent: int = 0
    events_delivered: int = 0
    duplicated: int = 0
    redeliveries_absorbed: int | None = None
    chain_verified: bool = False
    findings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    notes: str = ""
    pending_at_kill: list[int] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return self.events_sent - self.events_delivered

    def markdown_row(self) -> str:
        absorbed = "n/a" if self.redeliveries_absorbed is None else str(self.redeliveries_absorbed)
        return (
            f"| {self.fault} | {self.events_sent} | {self.events_sent * MESSAGES_PER_EVENT} | "
            f"{self.events_delivered} | {self.lost} | {self.duplicated} | {absorbed} | "
            f"{'yes' if self.chain_verified else 'NO'} | {self.seconds:.1f} | {self.notes} |"
        )


def wait_until(check: Callable[[], Any], timeout_s: float, what: str, poll_s: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(poll_s)
    raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")


# --------------------------------------------------------------------------- database


@dataclass(frozen=True)
class DbCounts:
    cases: int
    distinct_event_ids: int
    event_messages: int
    chain_records: int
    verified_records: int
    evidence: int
    open_issues: int


class Database:
    """The case database the server writes; the harness reads and registers keys."""

    def __init__(self, url: str, evidence_dir: Path) -> None:
        self.url = url
        self.evidence_dir = evidence_dir
        self.engine: Engine = make_engine(url)
        run_migrations(self.engine)
        self.factory: sessionmaker[Session] = make_session_factory(self.engine)
        self.store = EvidenceStore(evidence_dir)

    def register(self, edge_id: str, key: EdgeKey) -> None:
        with self.factory() as session, session.begin():
            chain_store.register_key(
                session,
                edge_id=edge_id,
                public_key_text=key.public_pem().decode("ascii"),
                now=utcnow(),
            )

    def counts(self) -> DbCounts:
        with self.factory() as session:

            def scalar(query: Any) -> int:
                return int(session.scalar(query) or 0)

            return DbCounts(
                cases=scalar(select(func.count()).select_from(Case)),
                distinct_event_ids=scalar(select(func.count(func.distinct(Case.event_id)))),
                event_messages=scalar(select(func.count()).select_from(CaseEvent)),
                chain_records=scalar(select(func.count()).select_from(ChainRecordRow)),
                verified_records=scalar(
                    select(func.count())
                    .select_from(ChainRecordRow)
                    .where(ChainRecordRow.verified.is_(True))
                ),
                evidence=scalar(select(func.count()).select_from(Evidence)),
                open_issues=scalar(
                    select(func.count())
                    .select_from(ChainIssue)
                    .where(ChainIssue.resolved_at.is_(None))
                ),
            )

    def stored_event_ids(self) -> set[str]:
        with self.factory() as session:
            return set(session.scalars(select(Case.event_id)))

    def verify(self, edge_id: str) -> VerifyReport:
        with self.factory() as session:
            return verify_edge(session, self.store, edge_id=edge_id)

    def complete(self, n_events: int) -> bool:
        """Every event, its record and its evidence stored."""
        c = self.counts()
        return (
            c.event_messages >= n_events
            and c.verified_records >= n_events
            and c.evidence >= n_events * EVIDENCE_PER_EVENT
        )

    def close(self) -> None:
        self.engine.dispose()


# --------------------------------------------------------------------------- server


class InProcessIngest:
    """The server's MQTT ingest (durable session, manual acks) in this process."""

    def __init__(self, db: Database, broker: MosquittoProcess, client_id: str) -> None:
        self.settings = load_settings(
            None,
            database_url=db.url,
            evidence_dir=db.evidence_dir,
            mqtt={
                "host": broker.host,
                "port": broker.port,
                "client_id": client_id,
                "reconnect_max_s": 1,
            },
            dead_letter_dir=db.evidence_dir.parent / "dead-letter",
        )
        self.metrics = IngestMetrics()
        self.ingest = MqttIngest(
            settings=self.settings,
            session_factory=db.factory,
            context=IngestContext(store=db.store),
            metrics=self.metrics,
        )

    def start(self, timeout_s: float = 20) -> None:
        self.ingest.start()
        if not self.ingest.wait_connected(timeout_s):
            raise TimeoutError("the ingest did not subscribe")

    def absorbed(self) -> int:
        accepted = self.metrics.snapshot().accepted
        return sum(n for code, n in accepted.items() if code.endswith("_duplicate"))

    def stop(self) -> None:
        self.ingest.stop()


class ServerProcess:
    """``python -m civicwatch server --config FILE`` as a child process."""

    def __init__(self, workdir: Path, db: Database, broker: MosquittoProcess) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.config = workdir / "server.yaml"
        self.config.write_text(
            yaml.safe_dump(
                {
                    "database_url": db.url,
                    "evidence_dir": str(db.evidence_dir),
                    "dead_letter_dir": str(workdir / "dead-letter"),
                    "mqtt": {
                        "host": broker.host,
                        "port": broker.port,
                        "client_id": "civicwatch-server-faults",
                        "reconnect_max_s": 1,
                    },
                    "http_host": "127.0.0.1",
                    "http_port": self.port,
                }
            )
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout_s: float = 60) -> None:
        log = (self.workdir / f"server-{self.starts}.log").open("wb")
        self.starts += 1
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "civicwatch", "--log-level", "WARNING"),
                *("server", "--config", str(self.config)),
            ],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_until(lambda: self.health().get("mqtt", {}).get("connected"), timeout_s, "server")

    def health(self) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as r:
                data: dict[str, Any] = json.loads(r.read())
                return data
        except (OSError, ValueError):
            return {}

    def absorbed(self) -> int:
        accepted = self.health().get("ingest", {}).get("accepted", {})
        return sum(int(n) for code, n in accepted.items() if code.endswith("_duplicate"))

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


# --------------------------------------------------------------------------- edges


def event_messages(edge_id: str, seed: str) -> tuple[Any, list[PendingMessage]]:
    """One start event with two evidence items, as the worker enqueues them."""
    blobs = [fake_jpeg(f"{seed}-{i}", 1500) for i in range(EVIDENCE_PER_EVENT)]
    event = make_event(edge_id=edge_id, evidence=[evidence_ref(b) for b in blobs])
    messages = [
        PendingMessage(topics.evidence_topic(edge_id, ref.sha256), blob, "image/jpeg")
        for ref, blob in zip(event.evidence, blobs, strict=True)
    ]
    messages.append(
        PendingMessage(
            topics.event_topic(edge_id, event.camera_id), event.to_json(), "application/json"
        )
    )
    return event, messages


class SimEdge:
    """An edge without cameras: a real outbox, evidence chain and publisher."""

    def __init__(self, directory: Path, edge_id: str, key: EdgeKey, host: str, port: int) -> None:
        self.edge_id = edge_id
        self.outbox = Outbox(directory / "outbox.db")
        self.chain = EdgeChain(self.outbox, key, edge_id=edge_id)
        self.publisher = Publisher(
            edge_id=edge_id,
            config=MqttConfig(host=host, port=port, reconnect_max_s=1),
            outbox=self.outbox,
        )
        self.sent: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.publisher.start()

    def produce(self, n: int) -> None:
        for i in range(n):
            event, messages = event_messages(self.edge_id, f"{self.edge_id}-{len(self.sent)}-{i}")
            self.chain.enqueue(messages, [event])
            self.sent.append(event.event_id)

    def produce_in_background(self, rate_per_s: float) -> None:
        def loop() -> None:
            while not self._stop.is_set():
                self.produce(1)
                self._stop.wait(1 / rate_per_s)

        self._thread = threading.Thread(target=loop, name=f"produce-{self.edge_id}", daemon=True)
        self._thread.start()

    def stop_producing(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def stop(self) -> None:
        self.stop_producing()
        self.publisher.stop()
        self.chain.close()
        self.outbox.close()


def chain_head(path: Path) -> int:
    """The newest chain sequence number in an outbox file: events enqueued (no drops)."""
    conn = sqlite3.connect(path, timeout=10)
    try:
        return int(conn.execute("SELECT COALESCE(MAX(seq), 0) FROM evidence_chain").fetchone()[0])
    finally:
        conn.close()


def outbox_pending(path: Path) -> int:
    """Messages still in an outbox file (read by another process)."""
    conn = sqlite3.connect(path, timeout=10)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
    finally:
        conn.close()


class EdgeProcess:
    """``python -m tests.faults.edge_proc`` as a child process (for SIGKILL)."""

    def __init__(self, workdir: Path, edge_id: str, key_file: Path, broker: MosquittoProcess):
        self.workdir = workdir
        self.edge_id = edge_id
        self.key_file = key_file
        self.broker = broker
        self.process: subprocess.Popen[str] | None = None
        self.produced = 0
        self.runs = 0

    def start(self, produce: int, rate_per_s: float = 0.0) -> None:
        self.runs += 1
        self.produced = 0
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "tests.faults.edge_proc"),
                *("--dir", str(self.workdir), "--edge-id", self.edge_id),
                *("--key", str(self.key_file), "--host", self.broker.host),
                *("--port", str(self.broker.port), "--produce", str(produce)),
                *("--rate", str(rate_per_s)),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=(self.workdir / f"edge-{self.runs}.log").open("w"),
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def wait_produced(self, n: int, timeout_s: float) -> None:
        """Read progress lines until ``n`` events are in the outbox."""
        assert self.process is not None and self.process.stdout is not None
        deadline = time.monotonic() + timeout_s
        while self.produced < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"edge produced {self.produced} of {n}")
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError(f"edge process exited ({self.process.poll()})")
            if line.startswith("produced "):
                self.produced = int(line.split()[1])

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


@contextmanager
def broker_in(workdir: Path) -> Iterator[MosquittoProcess]:
    broker = start_mosquitto(workdir / "broker")
    try:
        yield broker
    finally:
        broker.stop()


def _finish(figures: FaultFigures, db: Database, edge_ids: list[str], sent: int) -> None:
    counts = db.counts()
    figures.events_sent = sent
    figures.events_delivered = counts.distinct_event_ids
    figures.duplicated = (counts.cases - counts.distinct_event_ids) + (
        counts.event_messages - counts.distinct_event_ids
    )
    reports = [db.verify(edge_id) for edge_id in edge_ids]
    figures.chain_verified = all(r.ok for r in reports) and counts.open_issues == 0
    figures.findings = [line for r in reports if not r.ok for line in r.lines()]


# --------------------------------------------------------------------------- scenarios


def run_broker_outage(
    workdir: Path,
    *,
    db_url: str | None = None,
    outage_s: float = 8.0,
    edges: int = 2,
    rate_per_s: float = 10.0,
    before_s: float = 2.0,
    timeout_s: float = 60.0,
) -> FaultFigures:
    """Mosquitto stopped for ``outage_s`` while ``edges`` edges keep producing."""
    started = time.monotonic()
    figures = FaultFigures(
        fault=f"Mosquitto stopped {outage_s:.0f} s",
        notes=f"{edges} edges at {rate_per_s:.0f} events/s each; server in-process",
    )
    db = Database(db_url or f"sqlite:///{workdir / 'cases.db'}", workdir / "evidence")
    with broker_in(workdir) as broker:
        ingest = InProcessIngest(db, broker, "civicwatch-server-outage")
        sims: list[SimEdge] = []
        try:
            ingest.start()
            for i in range(edges):
                key = EdgeKey.generate()
                edge_id = f"edge-outage-{i}"
                db.register(edge_id, key)
                sims.append(SimEdge(workdir / edge_id, edge_id, key, broker.host, broker.port))
            for sim in sims:
                sim.start()
                sim.produce_in_background(rate_per_s)
            time.sleep(before_s)
            broker.stop()  # SIGTERM: Mosquitto saves sessions and queues
            time.sleep(outage_s)
            broker.restart()
            time.sleep(before_s)
            for sim in sims:
                sim.stop_producing()
            sent = sum(len(sim.sent) for sim in sims)
            wait_until(lambda: db.complete(sent), timeout_s, f"{sent} events after the outage")
            figures.redeliveries_absorbed = ingest.absorbed()
        finally:
            for sim in sims:
                sim.stop()
            ingest.stop()
        _finish(figures, db, [sim.edge_id for sim in sims], sent)
    db.close()
    figures.seconds = time.monotonic() - started
    return figures


def run_server_kill(
    workdir: Path,
    *,
    db_url: str | None = None,
    events: int = 300,
    kill_at_fraction: float = 0.3,
    timeout_s: float = 90.0,
) -> FaultFigures:
    """The server (a subprocess) SIGKILLed mid-ingest, then restarted."""
    started = time.monotonic()
    figures = FaultFigures(
        fault="server SIGKILL mid-ingest, restarted",
        notes=f"burst of {events} events; kill after {kill_at_fraction:.0%} stored",
    )
    db = Database(db_url or f"sqlite:///{workdir / 'cases.db'}", workdir / "evidence")
    with broker_in(workdir) as broker:
        server = ServerProcess(workdir, db, broker)
        key = EdgeKey.generate()
        db.register("edge-kill-server", key)
        sim = SimEdge(workdir / "edge", "edge-kill-server", key, broker.host, broker.port)
        try:
            server.start()
            sim.start()
            sim.produce(events)
            threshold = int(events * kill_at_fraction)
            wait_until(
                lambda: db.counts().event_messages >= threshold, timeout_s, "ingest to start"
            )
            server.kill()
            at_kill = db.counts().event_messages
            time.sleep(1.0)  # the edge keeps publishing to the broker meanwhile
            server.start()
            wait_until(lambda: db.complete(events), timeout_s, f"{events} events after restart")
            figures.redeliveries_absorbed = server.absorbed()
            figures.notes += f" (killed with {at_kill} stored)"
        finally:
            sim.stop()
            server.stop()
        _finish(figures, db, [sim.edge_id], events)
    db.close()
    figures.seconds = time.monotonic() - started
    return figures


def run_edge_kill(
    workdir: Path,
    *,
    offline_events: int = 40,
    live_events: int = 120,
    timeout_s: float = 90.0,
) -> FaultFigures:
    """An edge process SIGKILLed with events in its outbox, twice, then restarted."""
    started = time.monotonic()
    figures = FaultFigures(
        fault="edge SIGKILL with a pending outbox, restarted",
        notes=(
            f"{offline_events} events enqueued while the broker was down, then killed; "
            f"{live_events} more, killed mid-send"
        ),
    )
    db = Database(f"sqlite:///{workdir / 'cases.db'}", workdir / "evidence")
    edge_id = "edge-kill-edge"
    key = EdgeKey.generate()
    key_file, _ = key.save(workdir / "keys", edge_id)
    db.register(edge_id, key)
    with broker_in(workdir) as broker:
        ingest = InProcessIngest(db, broker, "civicwatch-server-edgekill")
        edge = EdgeProcess(workdir / "edge", edge_id, key_file, broker)
        (workdir / "edge").mkdir(exist_ok=True)
        pending: list[int] = []
        try:
            ingest.start()
            broker.stop()
            edge.start(produce=offline_events)
            edge.wait_produced(offline_events, timeout_s)
            edge.kill()
            pending.append(outbox_pending(workdir / "edge" / "outbox.db"))
            broker.restart()
            edge.start(produce=live_events, rate_per_s=100.0)
            edge.wait_produced(live_events // 2, timeout_s)
            edge.kill()
            pending.append(outbox_pending(workdir / "edge" / "outbox.db"))
            produced = chain_head(workdir / "edge" / "outbox.db")
            edge.start(produce=0)
            wait_until(lambda: db.complete(produced), timeout_s, f"{produced} events")
            wait_until(
                lambda: outbox_pending(workdir / "edge" / "outbox.db") == 0, timeout_s, "drain"
            )
            figures.redeliveries_absorbed = ingest.absorbed()
            figures.notes += f"; pending at the kills: {pending[0]} and {pending[1]} messages"
        finally:
            edge.stop()
            ingest.stop()
        _finish(figures, db, [edge_id], produced)
    figures.pending_at_kill = pending
    db.close()
    figures.seconds = time.monotonic() - started
    return figures


def run_burst(workdir: Path, *, messages: int = 2400, timeout_s: float = 90.0) -> FaultFigures:
    """A burst of QoS 1 messages published as fast as the edge can, one subscriber."""
    started = time.monotonic()
    events = messages // MESSAGES_PER_EVENT
    figures = FaultFigures(
        fault=f"burst of {events * MESSAGES_PER_EVENT} QoS 1 messages",
        notes="enqueued at once; max_queued_messages 100000",
    )
    db = Database(f"sqlite:///{workdir / 'cases.db'}", workdir / "evidence")
    with broker_in(workdir) as broker:
        ingest = InProcessIngest(db, broker, "civicwatch-server-burst")
        key = EdgeKey.generate()
        db.register("edge-burst", key)
        sim = SimEdge(workdir / "edge", "edge-burst", key, broker.host, broker.port)
        try:
            ingest.start()
            sim.produce(events)
            sim.start()
            wait_until(lambda: db.complete(events), timeout_s, f"{events} events")
            figures.redeliveries_absorbed = ingest.absorbed()
        finally:
            sim.stop()
            ingest.stop()
        _finish(figures, db, ["edge-burst"], events)
    db.close()
    figures.seconds = time.monotonic() - started
    return figures


@dataclass(frozen=True)
class TamperResult:
    """One stored item changed by one byte and what the verifier said."""

    item: str
    named: bool
    finding: str


def run_tamper(workdir: Path, *, events: int = 20) -> list[TamperResult]:
    """Deliver ``events`` through a real broker, then change one byte in stored items.

    Changes, each on a fresh copy of the state: an evidence file, a stored chain record,
    a stored event message; verification must name each.
    """
    from sqlalchemy import update

    results: list[TamperResult] = []
    db = Database(f"sqlite:///{workdir / 'cases.db'}", workdir / "evidence")
    with broker_in(workdir) as broker:
        ingest = InProcessIngest(db, broker, "civicwatch-server-tamper")
        key = EdgeKey.generate()
        db.register("edge-tamper", key)
        sim = SimEdge(workdir / "edge", "edge-tamper", key, broker.host, broker.port)
        try:
            ingest.start()
            sim.start()
            sim.produce(events)
            wait_until(lambda: db.complete(events), 60, f"{events} events")
        finally:
            sim.stop()
            ingest.stop()
    if not db.verify("edge-tamper").ok:
        raise AssertionError("the untouched chain does not verify")

    def check(item: str, needle: str) -> None:
        report = db.verify("edge-tamper")
        errors = [str(f) for f in report.findings if f.severity == "error"]
        hit = next((e for e in errors if needle in e), "")
        results.append(TamperResult(item=item, named=bool(hit), finding=hit or "; ".join(errors)))

    with db.factory() as session:
        sha = session.scalars(select(Evidence.sha256).order_by(Evidence.sha256)).first()
        record = session.scalars(select(ChainRecordRow).where(ChainRecordRow.seq == 7)).one()
        message = session.scalars(select(CaseEvent).order_by(CaseEvent.id)).first()
    assert sha is not None and message is not None
    path = db.store.path_for(sha)
    original = path.read_bytes()
    path.write_bytes(original[:100] + bytes([original[100] ^ 0x01]) + original[101:])
    check("evidence file (one bit of one byte)", str(path))
    path.write_bytes(original)

    text = record.signed_json
    at = text.index('"recorded_at":"') + 16
    changed = text[:at] + ("1" if text[at] != "1" else "2") + text[at + 1 :]
    with db.factory() as session, session.begin():
        session.execute(
            update(ChainRecordRow).where(ChainRecordRow.id == record.id).values(signed_json=changed)
        )
    check("chain record (one character of recorded_at)", "edge-tamper seq 7: content hashes to")
    with db.factory() as session, session.begin():
        session.execute(
            update(ChainRecordRow).where(ChainRecordRow.id == record.id).values(signed_json=text)
        )

    payload = dict(message.payload)
    payload["confidence"] = round(float(payload["confidence"]) + 0.01, 6)
    with db.factory() as session, session.begin():
        session.execute(update(CaseEvent).where(CaseEvent.id == message.id).values(payload=payload))
    check("event message (confidence +0.01)", f"(case_events row {message.id}): stored payload")
    db.close()
    return results
