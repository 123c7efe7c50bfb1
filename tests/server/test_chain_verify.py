"""Offline verification: a case, an edge's chain, a case package; one changed byte is named."""

from __future__ import annotations

import argparse
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from contracts.chain import canonical_json
from edge.chain import EdgeKey
from server import chain_store, crud, evidence_cli, keys_cli
from server.chain_verify import VerifyReport, export_case, verify_case, verify_edge, verify_package
from server.core.db import make_engine, make_session_factory, run_migrations
from server.evidence_store import EvidenceStore
from server.ingest import IngestContext, IngestMetrics, dispatch
from server.tables import CaseEvent, ChainRecordRow
from tests.contracts.chain_builders import Signer, WireMessage, edge_messages
from tests.server import builders as b
from tests.server.conftest import NOW

Factory = sessionmaker[Session]


@dataclass
class World:
    factory: Factory
    store: EvidenceStore
    signer: Signer
    case_a: int
    case_b: int
    dropped: str


def _send(factory: Factory, store: EvidenceStore, messages: list[WireMessage]) -> None:
    context, metrics = IngestContext(store=store), IngestMetrics()
    for m in messages:
        outcome = dispatch(
            factory,
            m.topic,
            m.payload,
            b.props(m.content_type),
            context=context,
            metrics=metrics,
            now=NOW,
        )
        assert outcome.accepted, outcome


def _register(factory: Factory, signer: Signer) -> None:
    pem = signer.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with factory() as session, session.begin():
        chain_store.register_key(
            session, edge_id=signer.edge_id, public_key_text=pem.decode(), now=NOW
        )


def _build(factory: Factory, store: EvidenceStore) -> World:
    """Case A (start + update), a dropped evidence item of case B, case B (start)."""
    signer = Signer()
    _register(factory, signer)
    a, m1 = edge_messages(signer, seed="a1")
    _, m2 = edge_messages(signer, seed="a2", phase="update", event_id=a.event_id)
    bev, m3 = edge_messages(signer, seed="b1")
    dropped = bev.evidence[0].sha256
    drop = signer.drop([dropped])
    from contracts import topics

    drop_msg = WireMessage(
        topics.chain_topic(signer.edge_id, drop.record.seq), drop.to_json(), "application/json"
    )
    # case B's first evidence item never leaves the edge: the drop record explains it
    _send(factory, store, m1 + m2 + m3[1:] + [drop_msg])
    with factory() as session:
        case_a = crud.get_case_by_event_id(session, event_id=a.event_id)
        case_b = crud.get_case_by_event_id(session, event_id=bev.event_id)
        assert case_a is not None and case_b is not None
        return World(factory, store, signer, case_a.id, case_b.id, dropped)


@pytest.fixture
def world(session_factory: Factory, store: EvidenceStore) -> World:
    return _build(session_factory, store)


def _case(world: World, case_id: int) -> VerifyReport:
    with world.factory() as session:
        return verify_case(session, world.store, case_id=case_id)


def _edge(world: World) -> VerifyReport:
    with world.factory() as session:
        return verify_edge(session, world.store, edge_id=world.signer.edge_id)


def _errors(report: VerifyReport) -> list[str]:
    return [f"{f.where}: {f.what}" for f in report.findings if f.severity == "error"]


def test_an_intact_case_and_chain_verify(world: World) -> None:
    report = _case(world, world.case_a)
    assert report.ok, report.lines()
    assert report.checked == {"records": 2, "event messages": 2, "evidence files": 4}
    assert report.lines()[0].startswith(f"case {world.case_a}: VERIFIED")
    edge = _edge(world)
    assert edge.ok, edge.lines()
    assert edge.checked["records"] == 4
    notices = [f.what for f in edge.findings if f.severity == "notice"]
    assert notices == [
        f"evidence {world.dropped} was dropped unsent by the edge (outbox budget), "
        "recorded by seq 4"
    ]
    case_b = _case(world, world.case_b)
    assert case_b.ok and any("dropped unsent" in f.what for f in case_b.findings)


def test_one_changed_byte_in_an_evidence_file_is_named(world: World) -> None:
    with world.factory() as session:
        case = crud.get_case(session, case_id=world.case_a)
        assert case is not None
        sha = case.evidence[1].sha256
    path = world.store.path_for(sha)
    data = bytearray(path.read_bytes())
    data[-7] ^= 0x01
    path.write_bytes(bytes(data))
    for report in (_case(world, world.case_a), _edge(world)):
        errors = _errors(report)
        assert len(errors) == 1, errors
        assert f"evidence file {path} hashes to " in errors[0]
        assert errors[0].endswith(f", expected {sha}")


def test_one_changed_byte_in_a_stored_record_is_named(world: World) -> None:
    with world.factory() as session, session.begin():
        row = session.scalars(select(ChainRecordRow).where(ChainRecordRow.seq == 2)).one()
        text = row.signed_json
        at = text.index('"dwell') if '"dwell' in text else text.index('"recorded_at":"') + 16
        row.signed_json = text[:at] + ("1" if text[at] != "1" else "2") + text[at + 1 :]
        row_id = row.id
    errors = _errors(_case(world, world.case_a))
    assert any(e.startswith("edge-1 seq 2: content hashes to ") for e in errors), errors
    assert any("signature does not verify" in e for e in errors)
    edge_errors = _errors(_edge(world))
    assert any("seq 2: content hashes to" in e for e in edge_errors)
    # a column edited behind the signed record's back is named too
    with world.factory() as session, session.begin():
        session.execute(
            update(ChainRecordRow).where(ChainRecordRow.seq == 3).values(event_sha256="f" * 64)
        )
    errors = _errors(_edge(world))
    assert any("(chain_records row" in e and "column event_sha256 is 'ffff" in e for e in errors), (
        errors
    )
    assert row_id


def test_a_changed_event_message_is_named(world: World) -> None:
    with world.factory() as session, session.begin():
        event = session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == world.case_a).order_by(CaseEvent.id)
        ).first()
        assert event is not None
        payload = dict(event.payload)
        payload["dwell_s"] = payload["dwell_s"] + 1
        event.payload = payload
        event_row = event.id
    errors = _errors(_case(world, world.case_a))
    assert len(errors) == 1
    assert errors[0].startswith(
        f"case {world.case_a} start message (case_events row {event_row}): stored payload "
        "hashes to "
    )


def test_a_removed_record_is_a_gap(world: World) -> None:
    with world.factory() as session, session.begin():
        row = session.scalars(select(ChainRecordRow).where(ChainRecordRow.seq == 2)).one()
        session.delete(row)
    errors = _errors(_edge(world))
    assert "seq 2: missing (gap in the chain)" in errors
    assert any("update message" in e and "not fixed by any chain record" in e for e in errors)


def test_the_exported_package_verifies_offline(world: World, tmp_path: Path) -> None:
    with world.factory() as session:
        out = export_case(
            session, world.store, case_id=world.case_a, out=tmp_path / "case.zip", now=NOW
        )
        with pytest.raises(FileExistsError):
            export_case(session, world.store, case_id=world.case_a, out=out, now=NOW)
        with pytest.raises(LookupError):
            export_case(session, world.store, case_id=999, out=tmp_path / "x.zip", now=NOW)
    report = verify_package(out)
    assert report.ok, report.lines()
    assert report.checked == {"records": 2, "event messages": 2, "evidence files": 4}
    assert any(f.where == "keys" for f in report.findings)  # says whose keys were used
    trusted = {world.signer.key_id: world.signer.key.public_key()}
    assert verify_package(out, trusted_keys=trusted).ok
    stranger = Signer()
    errors = _errors(verify_package(out, trusted_keys={stranger.key_id: stranger.key.public_key()}))
    assert f"manifest key {world.signer.key_id}: not among the trusted keys given" in errors
    assert any("no public key" in e for e in errors)


@pytest.mark.parametrize("member", ["evidence", "events", "records"])
def test_one_changed_byte_in_a_package_is_named(world: World, tmp_path: Path, member: str) -> None:
    with world.factory() as session:
        out = export_case(session, world.store, case_id=world.case_a, out=tmp_path / "pkg", now=NOW)
    target = sorted((out / member).iterdir())[0]
    data = bytearray(target.read_bytes())
    at = len(data) - 20 if member == "evidence" else data.index(b'"', 30) + 3
    data[at] = (
        data[at] ^ 0x01
        if member == "evidence"
        else (ord("1") if data[at] != ord("1") else ord("2"))
    )
    target.write_bytes(bytes(data))
    name = target.relative_to(out).as_posix()
    errors = _errors(verify_package(out))
    assert errors, "a changed byte must not verify"
    if member == "records":
        assert any(e.startswith("edge-1 seq") for e in errors) or any(name in e for e in errors)
    else:
        assert any(e.startswith(f"{name}: hashes to ") for e in errors), errors


def test_a_corrupt_zip_member_is_named(world: World, tmp_path: Path) -> None:
    with world.factory() as session:
        out = export_case(
            session, world.store, case_id=world.case_a, out=tmp_path / "c.zip", now=NOW
        )
    with zipfile.ZipFile(out) as archive:
        info = next(i for i in archive.infolist() if i.filename.startswith("evidence/"))
        offset = info.header_offset + 30 + len(info.filename) + len(info.extra) + 5
    data = bytearray(out.read_bytes())
    data[offset] ^= 0xFF
    out.write_bytes(bytes(data))
    errors = _errors(verify_package(out))
    assert any(e.startswith(info.filename) for e in errors), errors


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="civicwatch")
    subparsers = parser.add_subparsers(dest="command")
    evidence_cli.add_parser(subparsers)
    keys = subparsers.add_parser("keys")
    keys_cli.add_commands(keys.add_subparsers(dest="keys_command", required=True))
    args = parser.parse_args(list(argv))
    result: int = args.func(args)
    return result


def test_the_cli_registers_keys_verifies_and_exports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "cases.db"
    config = tmp_path / "server.yaml"
    config.write_text(
        yaml.safe_dump(
            {"database_url": f"sqlite:///{db}", "evidence_dir": str(tmp_path / "evidence")}
        )
    )
    key = EdgeKey.generate()
    _, pub = key.save(tmp_path / "keys", "edge-1")
    assert (
        _cli(
            "keys",
            "register",
            "--edge-id",
            "edge-1",
            "--public-key",
            str(pub),
            "--config",
            str(config),
        )
        == 0
    )
    assert _cli("keys", "list", "--config", str(config)) == 0
    listing = capsys.readouterr().out
    assert f"edge-1\t{key.key_id}" in listing
    engine = make_engine(f"sqlite:///{db}")
    run_migrations(engine)
    factory = make_session_factory(engine)
    signer = Signer(key=key.private_key)
    store = EvidenceStore(tmp_path / "evidence")
    event, messages = edge_messages(signer, seed="cli")
    _send(factory, store, messages)
    with factory() as session:
        case = crud.get_case_by_event_id(session, event_id=event.event_id)
        assert case is not None
        case_id = case.id
    engine.dispose()
    assert _cli("evidence", "verify", "--case", str(case_id), "--config", str(config)) == 0
    assert _cli("evidence", "verify", "--edge", "edge-1", "--config", str(config)) == 0
    package = tmp_path / "case.zip"
    assert (
        _cli("evidence", "export", str(case_id), "--out", str(package), "--config", str(config))
        == 0
    )
    assert _cli("evidence", "verify", "--package", str(package), "--public-key", str(pub)) == 0
    out = capsys.readouterr().out
    assert f"case {case_id}: VERIFIED" in out and f"package {package}: VERIFIED" in out
    victim = store.path_for(event.evidence[0].sha256)
    victim.write_bytes(victim.read_bytes()[:-1] + b"\x00")
    assert _cli("evidence", "verify", "--case", str(case_id), "--config", str(config)) == 1
    assert f"evidence file {victim} hashes to" in capsys.readouterr().out
    assert _cli("evidence", "verify", "--package", str(tmp_path / "none.zip")) == 2
    assert _cli("evidence", "verify", "--case", "1", "--public-key", str(pub)) == 2
    assert (
        _cli("evidence", "verify", "--case", "1", "--config", str(tmp_path / "missing.yaml")) == 2
    )
    assert json.loads(canonical_json({"ok": True})) == {"ok": True}
