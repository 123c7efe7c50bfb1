"""The case file chain (pure): links, hashes, photos, and tampering of every kind."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from server.lifecycle.file_chain import (
    GENESIS,
    FileRecord,
    PhotoState,
    link,
    listed_photos,
    verify_chain,
)
from server.lifecycle.reading import compare_transitions

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
PHOTO = "ab" * 32


def chain(n: int = 3) -> list[FileRecord]:
    records: list[FileRecord] = []
    previous = GENESIS
    for seq in range(n):
        payload: dict[str, object] = {"transition_id": seq + 1, "note": f"step {seq}"}
        kind = "dispatch"
        if seq == 1:
            kind = "disposal"
            payload = {"disposal_id": 1, "note": "清理完毕", "photos": [{"sha256": PHOTO}]}
        record = link(
            case_id=7,
            seq=seq,
            prev_hash=previous,
            kind=kind,
            at=T0 + timedelta(minutes=seq),
            actor="ana",
            payload=payload,
        )
        records.append(record)
        previous = record.record_hash
    return records


OK = {PHOTO: PhotoState.OK}


def test_an_intact_chain_verifies() -> None:
    records = chain()
    verdict = verify_chain(7, records, photos=OK)
    assert verdict.ok and verdict.problems == []
    assert verdict.records == 3 and verdict.head == records[-1].record_hash


def test_the_empty_chain_verifies() -> None:
    verdict = verify_chain(7, [], photos={})
    assert verdict.ok and verdict.head is None


def test_hashes_do_not_depend_on_the_time_zone_given() -> None:
    shanghai = T0.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))
    a = link(case_id=1, seq=0, prev_hash=GENESIS, kind="k", at=T0, actor="a", payload={})
    b = link(case_id=1, seq=0, prev_hash=GENESIS, kind="k", at=shanghai, actor="a", payload={})
    assert a.record_hash == b.record_hash


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"payload": {"transition_id": 3, "note": "edited"}}, "record 2 (dispatch) was changed"),
        ({"actor": "mallory"}, "record 2 (dispatch) was changed"),
        ({"at": T0 + timedelta(days=1)}, "record 2 (dispatch) was changed"),
        ({"kind": "close"}, "record 2 (close) was changed"),
        ({"prev_hash": "f" * 64}, "record 2 does not link"),
        ({"case_id": 8}, "record 2 belongs to case 8"),
    ],
)
def test_a_changed_record_is_detected(change: dict[str, object], problem: str) -> None:
    records = chain()
    records[2] = dataclasses.replace(records[2], **change)  # type: ignore[arg-type]
    verdict = verify_chain(7, records, photos=OK)
    assert not verdict.ok
    assert any(problem in line for line in verdict.problems), verdict.problems


def test_a_rehashed_record_still_breaks_the_next_link() -> None:
    records = chain()
    forged = link(
        case_id=7,
        seq=1,
        prev_hash=records[0].record_hash,
        kind="disposal",
        at=T0,
        actor="mallory",
        payload={"photos": [{"sha256": PHOTO}]},
    )
    records[1] = forged
    verdict = verify_chain(7, records, photos=OK)
    assert verdict.problems == ["record 2 does not link to the record before it"]


def test_a_missing_record_is_detected() -> None:
    records = chain()
    del records[1]
    problems = verify_chain(7, records, photos=OK).problems
    assert "record 2 is at position 1 (a record is missing)" in problems


@pytest.mark.parametrize("state", [PhotoState.MISSING, PhotoState.CORRUPT])
def test_a_photo_that_is_gone_or_changed_is_detected(state: PhotoState) -> None:
    verdict = verify_chain(7, chain(), photos={PHOTO: state})
    assert verdict.problems == [f"record 1 lists photo {PHOTO}, which is {state.value}"]
    assert verify_chain(7, chain(), photos={}).ok is False


def test_listed_photos() -> None:
    assert listed_photos(chain()[1]) == [PHOTO]
    assert listed_photos(chain()[0]) == []


def test_transition_rows_are_compared_with_their_records() -> None:
    records = chain()
    expected = {1: dict(records[0].payload), 3: dict(records[2].payload)}
    assert compare_transitions(records, expected) == []
    expected[3] = {**expected[3], "note": "rewritten later"}
    expected[9] = {"transition_id": 9}
    assert compare_transitions(records, expected) == [
        "transition 3 differs from its file record 2",
        "transition 9 has no file record",
    ]
