"""The edge's optional Prometheus endpoint (``metrics: {enabled, host, port}`` in its config).

Everything is read from the worker's own counters when scraped (the analyzers'
:class:`~edge.analysis.StageTimes`, the readers' stats, the outbox, the publisher's
:class:`~edge.mqtt.PublisherStats`); nothing is counted twice. Metric names (all
``civicwatch_edge_`` prefixed; per camera with a ``camera`` label):

- ``frames_analysed_total``, ``frames_dropped_total`` (stale frames a live source
  dropped), ``frames_skipped_total`` (not due for analysis), ``frames_decoded_total``,
  ``events_total``, ``analysis_errors_total``, ``source_reconnects_total``;
- ``stage_seconds_total{stage=detect|track|rules|evidence}``: time spent per stage
  (divided by ``frames_analysed_total``: the mean per frame);
- ``frame_age_seconds``: how old the newest frame from the source is;
- ``source_running``: 1 while the camera's capture thread runs;
- edge-wide: ``outbox_depth`` (messages not yet acknowledged), ``mqtt_connected``,
  ``mqtt_connects_total``, ``mqtt_disconnects_total``, ``mqtt_sent_total``,
  ``mqtt_acked_total``, ``mqtt_refused_total``, ``mqtt_dead_lettered_total``,
  ``mqtt_resends_total``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from edge.worker import EdgeWorker

logger = logging.getLogger(__name__)


class MetricsConfig(BaseModel):
    """The edge's Prometheus endpoint; off by default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(False, description="Serve GET /metrics for Prometheus.")
    host: str = Field(
        "127.0.0.1",
        min_length=1,
        max_length=255,
        description="Address to bind; loopback unless a scraper elsewhere must reach it.",
    )
    port: int = Field(9464, ge=1, le=65535, description="TCP port of the endpoint.")


def _counter(name: str, doc: str) -> CounterMetricFamily:
    return CounterMetricFamily(f"civicwatch_edge_{name}", doc, labels=("camera",))


def _gauge(name: str, doc: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"civicwatch_edge_{name}", doc, labels=("camera",))


class EdgeCollector(Collector):
    """The Prometheus view of one running worker."""

    def __init__(self, worker: EdgeWorker) -> None:
        self._worker = worker

    def collect(self) -> Iterator[Metric]:
        yield from self._cameras()
        yield from self._delivery()

    def _cameras(self) -> Iterator[Metric]:
        analysed = _counter("frames_analysed", "Frames analysed.")
        events = _counter("events", "Rule events raised.")
        errors = _counter("analysis_errors", "Frames whose analysis failed.")
        dropped = _counter("frames_dropped", "Stale frames dropped (live sources).")
        skipped = _counter("frames_skipped", "Frames not due for analysis.")
        decoded = _counter("frames_decoded", "Frames decoded by the source.")
        reconnects = _counter("source_reconnects", "Source reconnects.")
        age = _gauge("frame_age_seconds", "Age of the newest frame from the source.")
        running = _gauge("source_running", "1 while the capture thread runs.")
        stages = CounterMetricFamily(
            "civicwatch_edge_stage_seconds",
            "Seconds spent per analysis stage, summed over analysed frames.",
            labels=("camera", "stage"),
        )
        now = datetime.now(UTC)
        readers = {reader.source.camera_id: reader for reader in self._worker.readers}
        for pipeline in self._worker.pipelines:
            camera_id = pipeline.camera.id
            label = (camera_id,)
            times = pipeline.times
            with times.lock:
                counts = (times.frames, times.events, times.errors)
                spent = {
                    "detect": times.detect_s,
                    "track": times.track_s,
                    "rules": times.rules_s,
                    "evidence": times.evidence_s,
                }
            analysed.add_metric(label, counts[0])
            events.add_metric(label, counts[1])
            errors.add_metric(label, counts[2])
            for stage, seconds in spent.items():
                stages.add_metric((camera_id, stage), seconds)
            reader = readers.get(camera_id)
            if reader is None:  # not started yet
                continue
            stats = reader.stats()
            dropped.add_metric(label, stats.frames_dropped)
            skipped.add_metric(label, stats.frames_skipped)
            decoded.add_metric(label, stats.source.frames_decoded)
            reconnects.add_metric(label, stats.source.reconnects)
            running.add_metric(label, 1 if stats.running else 0)
            if stats.source.last_frame_at is not None:
                # a file source stamps frames with media time, which may run ahead of now
                age_s = (now - stats.source.last_frame_at).total_seconds()
                age.add_metric(label, max(0.0, age_s))
        yield from (analysed, events, errors, stages, dropped, skipped, decoded, reconnects)
        yield from (age, running)

    def _delivery(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "civicwatch_edge_outbox_depth",
            "Messages in the outbox not yet acknowledged by the broker.",
            value=self._worker.outbox.count(),
        )
        publisher = self._worker.publisher
        yield GaugeMetricFamily(
            "civicwatch_edge_mqtt_connected",
            "1 while the publisher is connected to the broker.",
            value=1 if publisher.connected else 0,
        )
        stats = publisher.stats
        with stats.lock:
            values = {
                "connects": stats.connects,
                "disconnects": stats.disconnects,
                "sent": stats.sent,
                "acked": stats.acked,
                "refused": stats.refused,
                "dead_lettered": stats.dead_lettered,
                "resends": stats.resends,
            }
        for name, value in values.items():
            yield CounterMetricFamily(
                f"civicwatch_edge_mqtt_{name}",
                f"Publisher {name.replace('_', ' ')} (edge.mqtt.PublisherStats).",
                value=value,
            )


class MetricsServer:
    """Serves an :class:`EdgeCollector` over HTTP on its own thread; ``stop()`` ends it."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def port(self) -> int:
        """The bound port (the configured one, or the one chosen for port 0)."""
        return int(self._server.server_port)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5.0)


def start_metrics_server(config: MetricsConfig, worker: EdgeWorker) -> MetricsServer | None:
    """Start the endpoint when ``config.enabled``; ``None`` when it is off.

    Raises:
        OSError: The address cannot be bound (in use, not local).
    """
    if not config.enabled:
        return None
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EdgeCollector(worker))
    server, thread = start_http_server(config.port, addr=config.host, registry=registry)
    logger.info("metrics on http://%s:%d/metrics", config.host, server.server_port)
    return MetricsServer(server, thread)
