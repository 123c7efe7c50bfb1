"""Issue 17, Medium "no retention": rejected cases and their evidence go, legal holds keep.

Against a running server: two cases are rejected; their reviews are moved 100 days into
the past (the time that would pass). An admin puts one on legal hold over the API (an
operator may not); ``civicwatch server retention`` deletes the other with its evidence
files and keeps the held one; clearing the hold is audited and lets the next run go.
Evidence of an event still waiting in the quarantine is not an orphan until it ages out.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import select, update

from server import quarantine
from server.core.db import make_engine, make_session_factory, utcnow
from server.evidence_store import EvidenceStore
from server.ingest import IngestContext, IngestMetrics, dispatch
from server.tables import Case, Evidence, LegalHoldLog, RetentionRun
from tests.faults.harness import event_messages
from tests.security.http_support import bearer, civicwatch, secured_server, write_config
from tests.server import builders as b


def test_retention_deletes_rejected_cases_but_not_held_ones(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    with secured_server(tmp_path) as server:
        url = server.url
        rita, adam, olga = (bearer(url, name) for name in ("rita", "adam", "olga"))
        cases = httpx.get(f"{url}/api/v1/cases", headers=rita, timeout=10).json()["items"]
        assert len(cases) == 2
        for case in cases:
            verdict = httpx.post(
                f"{url}/api/v1/cases/{case['id']}/review",
                json={"verdict": "reject", "reason": "parked legally"},
                headers=rita,
                timeout=10,
            )
            assert verdict.status_code == 200, verdict.text
        held, doomed = cases
        hold_url = f"{url}/api/v1/cases/{held['id']}/legal-hold"
        body = {"hold": True, "reason": "court order 2026/17"}
        assert httpx.post(hold_url, json=body, headers=olga, timeout=10).status_code == 403
        assert httpx.post(hold_url, json=body, headers=rita, timeout=10).status_code == 403
        on_hold = httpx.post(hold_url, json=body, headers=adam, timeout=10)
        assert on_hold.status_code == 200 and on_hold.json()["on_hold"] is True
        assert httpx.post(hold_url, json=body, headers=adam, timeout=10).status_code == 409

        engine = make_engine(server.state.settings.database_url)
        factory = make_session_factory(engine)
        with factory() as session, session.begin():
            session.execute(update(Case).values(reviewed_at=utcnow() - timedelta(days=100)))
        store = EvidenceStore(server.state.settings.evidence_dir)
        doomed_files = [store.path_for(e["sha256"]) for e in doomed["evidence"]]
        held_files = [store.path_for(e["sha256"]) for e in held["evidence"]]
        assert all(path.is_file() for path in doomed_files + held_files)

        dry = civicwatch("server", "retention", "--config", str(config), "--dry-run")
        assert dry.returncode == 0 and "would delete 1 cases" in dry.stdout, dry.stdout
        assert all(path.is_file() for path in doomed_files)
        run = civicwatch("server", "retention", "--config", str(config))
        assert run.returncode == 0, run.stderr
        assert "deleted 1 cases" in run.stdout and "1 cases kept by a legal hold" in run.stdout

        gone = httpx.get(f"{url}/api/v1/cases/{doomed['id']}", headers=rita, timeout=10)
        assert gone.status_code == 404
        assert not any(path.exists() for path in doomed_files)
        assert all(path.is_file() for path in held_files)
        kept = httpx.get(f"{url}/api/v1/cases/{held['id']}", headers=rita, timeout=10)
        assert kept.status_code == 200
        for item in held["evidence"]:
            image = httpx.get(f"{url}/api/v1/evidence/{item['sha256']}", headers=rita, timeout=10)
            assert image.status_code == 200

        clear = {"hold": False, "reason": "case closed by the court"}
        assert httpx.post(hold_url, json=clear, headers=adam, timeout=10).status_code == 200
        log = httpx.get(hold_url, headers=olga, timeout=10).json()["log"]
        assert [(e["action"], e["actor"]) for e in log] == [("set", "adam"), ("clear", "adam")]
        again = civicwatch("server", "retention", "--config", str(config))
        assert again.returncode == 0 and "deleted 1 cases" in again.stdout
        assert not any(path.exists() for path in held_files)
        with factory() as session:
            assert session.scalars(select(Case)).all() == []
            assert session.scalars(select(Evidence)).all() == []
            runs = session.scalars(select(RetentionRun).order_by(RetentionRun.id)).all()
            assert [r.cases_deleted for r in runs] == [1, 1]
            assert len(session.scalars(select(LegalHoldLog)).all()) == 2  # outlives the case
        engine.dispose()


def test_retention_keeps_evidence_of_events_waiting_in_quarantine(tmp_path: Path) -> None:
    """An event whose chain record has not verified yet still needs its evidence."""
    config = tmp_path / "server.yaml"
    config.write_text(write_config(tmp_path).read_text() + "retention: {orphan_evidence_days: 1}\n")
    with secured_server(tmp_path) as server:
        url, settings = server.url, server.state.settings
        engine = make_engine(settings.database_url)
        factory = make_session_factory(engine)
        waiting, messages = event_messages("edge-late", "waits-for-its-key")
        context = IngestContext(store=EvidenceStore(settings.evidence_dir))
        for message in messages:  # no key registered for edge-late: the event waits
            dispatch(
                factory,
                message.topic,
                message.payload,
                b.props(message.content_type),
                context=context,
                metrics=IngestMetrics(),
                now=utcnow(),
            )
        held = httpx.get(f"{url}/api/v1/quarantine", headers=bearer(url, "adam"), timeout=10)
        assert [e["event_id"] for e in held.json()["items"]] == [waiting.event_id], held.text
        with factory() as session, session.begin():  # its bytes arrived two days ago
            session.execute(update(Evidence).values(received_at=utcnow() - timedelta(days=2)))
        store = EvidenceStore(settings.evidence_dir)
        files = [store.path_for(ref.sha256) for ref in waiting.evidence]
        assert all(path.is_file() for path in files)

        run = civicwatch("server", "retention", "--config", str(config))
        assert run.returncode == 0 and "deleted 0 cases and 0 evidence" in run.stdout, run.stdout
        assert all(path.is_file() for path in files)

        with factory() as session, session.begin():  # it ages out without a verified record
            later = utcnow() + timedelta(seconds=settings.quarantine_max_age_s + 1)
            assert quarantine.expire(session, now=later, max_age_s=60) == 1
        run = civicwatch("server", "retention", "--config", str(config))
        assert run.returncode == 0 and "0 cases and 2 evidence" in run.stdout, run.stdout
        assert not any(path.exists() for path in files)
        with factory() as session:
            kept = set(session.scalars(select(Evidence.sha256)))
        assert kept.isdisjoint(ref.sha256 for ref in waiting.evidence) and len(kept) == 4
        engine.dispose()
