"""The case list as CSV for Excel: UTF-8 with a BOM, safe against formula injection (pure).

Excel opens a UTF-8 file correctly (Chinese unit names included) only when it starts with a
byte-order mark. A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return would be run as a formula by a spreadsheet; such text (an edge's or a person's) gets a
leading apostrophe, which spreadsheets show as text. Times are ISO 8601 in Asia/Shanghai.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from server.schemas import CaseOut

BOM: Final[str] = "\ufeff"
FORMULA_STARTS: Final[tuple[str, ...]] = ("=", "+", "-", "@", "\t", "\r")
TIME_ZONE: Final[ZoneInfo] = ZoneInfo("Asia/Shanghai")

COLUMNS: Final[tuple[str, ...]] = (
    "id",
    "event_id",
    "status",
    "violation_type",
    "edge_id",
    "camera_id",
    "zone_id",
    "unit_id",
    "unit_name",
    "assigned_unit_id",
    "team_unit_id",
    "label",
    "confidence",
    "first_seen",
    "last_seen",
    "dwell_s",
    "model_version",
    "chain_status",
    "reviewer",
    "reviewed_at",
    "review_reason",
    "deadline_at",
    "overdue",
    "closed_at",
)


def safe_cell(value: str) -> str:
    """``value``, with an apostrophe in front when a spreadsheet would take it as a formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _time(value: datetime | None) -> str:
    return value.astimezone(TIME_ZONE).isoformat() if value is not None else ""


def _text(value: str | None) -> str:
    return safe_cell(value) if value is not None else ""


def row_of(case: CaseOut) -> list[str]:
    """One CSV row (in :data:`COLUMNS` order) of a listed case."""
    return [
        str(case.id),
        _text(case.event_id),
        case.status.value,
        _text(case.violation_type),
        _text(case.edge_id),
        _text(case.camera_id),
        _text(case.zone_id),
        _text(case.unit_id),
        _text(case.unit_name),
        _text(case.assigned_unit_id),
        _text(case.team_unit_id),
        _text(case.label),
        f"{case.confidence:.3f}",
        _time(case.first_seen),
        _time(case.last_seen),
        f"{case.dwell_s:.1f}",
        _text(case.model.version),
        case.chain_status,
        _text(case.reviewer),
        _time(case.reviewed_at),
        _text(case.review_reason),
        _time(case.deadline_at),
        "true" if case.overdue else "false",
        _time(case.closed_at),
    ]


def csv_chunks(pages: Iterable[Iterable[CaseOut]]) -> Iterator[bytes]:
    """The CSV file, a chunk per page of cases: BOM and header first (CRLF line ends)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow(COLUMNS)
    yield buffer.getvalue().encode("utf-8")
    for page in pages:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerows(row_of(case) for case in page)
        yield buffer.getvalue().encode("utf-8")
