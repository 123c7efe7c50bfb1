"""CSV for Excel (pure): BOM, header, formula injection."""

from __future__ import annotations

import csv
import io

import pytest

from server.exports.table import BOM, COLUMNS, csv_chunks, safe_cell


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("", ""),
        ("plain", "plain"),
        ("黄浦区", "黄浦区"),
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\r=1", "'\r=1"),
        ("a=1", "a=1"),
    ],
)
def test_safe_cell(value: str, safe: str) -> None:
    assert safe_cell(value) == safe


def test_an_empty_export_is_a_bom_and_the_header() -> None:
    data = b"".join(csv_chunks([]))
    text = data.decode("utf-8")
    assert text.startswith(BOM)
    assert next(csv.reader(io.StringIO(text[1:]))) == list(COLUMNS)
    assert text.endswith("\r\n")
