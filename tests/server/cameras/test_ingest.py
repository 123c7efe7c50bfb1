"""Health, config status and snapshots from an edge, through the ingest handlers; alarms."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from contracts.control import ApplyState, CameraConfigStatus, ConfigStatus
from contracts.health import CameraHealth, CameraState, EdgeHealth
from contracts.topics import health_topic, parse_edge_topic, snapshot_topic, status_topic
from server.cameras import registry
from server.cameras.alarm_store import check_alarms, open_alarms
from server.cameras.alarms import AlarmKind, AlarmThresholds
from server.cameras.health_store import health_histories, health_history, trim_health
from server.cameras.schemas import CameraCreate
from server.cameras.snapshots import latest_snapshot
from server.cameras.tables import CameraAlarm, CameraSettings, EdgeConfig
from server.evidence_store import EvidenceStore
from server.ingest import IngestContext
from server.ingest.handlers import HANDLERS, IngestMessage
from server.ingest.results import IngestRejectedError
from tests.server.cameras.conftest import STREAM, STREET, add_units, jpeg, snapshot_message
from tests.server.conftest import NOW

LIMITS = AlarmThresholds(dark_after_s=60.0, view_similarity_min=0.5)


@pytest.fixture
def camera_pk(session_factory: sessionmaker[Session]) -> int:
    add_units(session_factory)
    with session_factory() as session, session.begin():
        found = registry.create_camera(
            session,
            CameraCreate(
                edge_id="edge-1", camera_id="cam-1", name="c", unit_id=STREET, stream_url=STREAM
            ),
            author="op",
            now=NOW,
        )
        return found.camera.id


def _ingest(
    session_factory: sessionmaker[Session],
    context: IngestContext,
    topic: str,
    payload: bytes,
    now: datetime,
) -> str:
    message = IngestMessage(topic=topic, address=parse_edge_topic(topic), payload=payload)
    with session_factory() as session, session.begin():
        outcome = HANDLERS[message.address.kind](session, message, context=context, now=now)
    return outcome.detail


def _health(at: datetime, *, age: float | None, frozen: bool = False) -> bytes:
    camera = CameraHealth(
        camera_id="cam-1",
        state=CameraState.RUNNING,
        frames_received=100,
        frames_analysed=50,
        frames_dropped=1,
        decode_errors=0,
        reconnects=0,
        last_frame_age_s=age,
        detector_latency_p50_ms=12.0,
        frozen=frozen,
        frozen_for_s=0.0,
        view_similarity=0.9,
        reference_sha256=None,
    )
    stranger = camera.model_copy(update={"camera_id": "not-registered"})
    return EdgeHealth(
        edge_id="edge-1", sampled_at=at, uptime_s=10, config_version=1, cameras=[camera, stranger]
    ).to_json()


def test_health_is_stored_bounded_and_raises_then_clears_alarms(
    session_factory: sessionmaker[Session], context: IngestContext, camera_pk: int
) -> None:
    for k in range(5):
        at = NOW + timedelta(seconds=5 * k)
        detail = _ingest(session_factory, context, health_topic("edge-1"), _health(at, age=0.1), at)
        assert detail == "1 of 2 camera(s) registered"
    with session_factory() as session, session.begin():
        (recent,) = health_histories(session, [camera_pk], limit=2).values()
        assert [r.sampled_at for r in recent] == [NOW + timedelta(seconds=s) for s in (15, 20)]
        assert health_histories(session, [], limit=2) == {}
        assert check_alarms(session, now=NOW + timedelta(seconds=30), limits=LIMITS) == 0
        trim_health(session, keep=3)
        assert len(health_history(session, camera_pk=camera_pk, limit=100)) == 3
    # The stream stops: the edge reports an ageing last frame, then a frozen picture.
    late = NOW + timedelta(seconds=120)
    _ingest(session_factory, context, health_topic("edge-1"), _health(late, age=90.0), late)
    with session_factory() as session, session.begin():
        assert check_alarms(session, now=late, limits=LIMITS) == 1
        assert check_alarms(session, now=late, limits=LIMITS) == 0  # raised once
        assert [a.kind for a in open_alarms(session)] == [AlarmKind.DARK]
    back = late + timedelta(seconds=5)
    _ingest(session_factory, context, health_topic("edge-1"), _health(back, age=0.2), back)
    with session_factory() as session, session.begin():
        assert check_alarms(session, now=back, limits=LIMITS) == 1
        assert open_alarms(session) == []


def test_silence_is_dark(
    session_factory: sessionmaker[Session], context: IngestContext, camera_pk: int
) -> None:
    with session_factory() as session, session.begin():
        assert check_alarms(session, now=NOW + timedelta(seconds=59), limits=LIMITS) == 0
        assert check_alarms(session, now=NOW + timedelta(seconds=61), limits=LIMITS) == 1
        (alarm,) = open_alarms(session)
        assert (alarm.camera_pk, alarm.kind) == (camera_pk, AlarmKind.DARK)
        assert "no health report" in alarm.detail


def test_status_says_what_the_edge_runs(
    session_factory: sessionmaker[Session], context: IngestContext, camera_pk: int
) -> None:
    applied = ConfigStatus(
        edge_id="edge-1",
        received_version=1,
        state=ApplyState.APPLIED,
        running_version=1,
        source="server",
        cameras=[CameraConfigStatus(camera_id="cam-1", zone_version=1, enabled=True)],
        reported_at=NOW,
    )
    _ingest(session_factory, context, status_topic("edge-1"), applied.to_json(), NOW)
    with session_factory() as session:
        settings = session.get(CameraSettings, camera_pk)
        assert settings is not None
        assert settings.applied_zone_version == 1
    refused = applied.model_copy(
        update={"received_version": 1, "state": ApplyState.REFUSED, "error": "cam-1.yaml:3: bad"}
    )
    _ingest(session_factory, context, status_topic("edge-1"), refused.to_json(), NOW)
    with session_factory() as session:
        config = session.get(EdgeConfig, "edge-1")
        assert config is not None
        assert (config.state, config.error) == ("refused", "cam-1.yaml:3: bad")
    other = applied.model_copy(update={"edge_id": "edge-2"})
    with pytest.raises(IngestRejectedError, match="names edge"):
        _ingest(session_factory, context, status_topic("edge-1"), other.to_json(), NOW)


def test_snapshots_are_stored_by_hash_and_bad_ones_refused(
    session_factory: sessionmaker[Session],
    context: IngestContext,
    store: EvidenceStore,
    camera_pk: int,
) -> None:
    data = jpeg()
    message = snapshot_message(data, at=NOW)
    detail = _ingest(
        session_factory, context, snapshot_topic("edge-1", "cam-1"), message.to_json(), NOW
    )
    assert detail == f"stored {message.sha256}"
    assert store.read(message.sha256) == data
    with session_factory() as session:
        snap = latest_snapshot(session, camera_pk=camera_pk)
        assert snap is not None
        assert (snap.sha256, snap.width) == (message.sha256, 320)
    lying = message.model_copy(update={"sha256": "0" * 64})
    with pytest.raises(IngestRejectedError, match="hash to"):
        _ingest(session_factory, context, snapshot_topic("edge-1", "cam-1"), lying.to_json(), NOW)
    elsewhere = snapshot_message(jpeg(5), at=NOW)
    with pytest.raises(IngestRejectedError, match="came on the topic"):
        _ingest(
            session_factory, context, snapshot_topic("edge-1", "cam-2"), elsewhere.to_json(), NOW
        )
    with session_factory() as session:
        rows = session.scalars(select(CameraSettings)).all()
        assert len(rows) == 1


def test_one_open_alarm_per_camera_and_kind(
    session_factory: sessionmaker[Session], camera_pk: int
) -> None:
    def alarm(cleared: bool) -> CameraAlarm:
        return CameraAlarm(
            camera_pk=camera_pk,
            kind=AlarmKind.DARK,
            raised_at=NOW,
            cleared_at=NOW if cleared else None,
            detail="x",
        )

    with session_factory() as session, session.begin():
        session.add_all([alarm(True), alarm(True), alarm(False)])
    with pytest.raises(IntegrityError), session_factory() as session, session.begin():
        session.add(alarm(False))  # a second replica raising the same alarm
