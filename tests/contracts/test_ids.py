"""The one identifier type: the pydantic type and the plain check agree on every case."""

from __future__ import annotations

import re

import pytest
from pydantic import BaseModel, ValidationError

from contracts.ids import ID_PATTERN, ID_REGEX, Identifier, is_identifier


class _Holder(BaseModel):
    value: Identifier


CASES: list[tuple[str, bool]] = [
    ("", False),
    ("a", True),
    ("0", True),
    ("cam-01", True),
    ("edge_1.north", True),
    ("A" * 64, True),
    ("A" * 65, False),
    ("-cam", False),
    ("_cam", False),
    (".hidden", False),
    ("../etc", False),
    ("cam/01", False),
    ("cam 01", False),
    ("cam+", False),
    ("cam#", False),
    ("cam\n", False),
    ("\ncam", False),
    ("路口", False),
    ("user@host", False),
]


@pytest.mark.parametrize(("value", "valid"), CASES)
def test_is_identifier(value: str, valid: bool) -> None:
    assert is_identifier(value) is valid


@pytest.mark.parametrize(("value", "valid"), CASES)
def test_pydantic_type_agrees(value: str, valid: bool) -> None:
    if valid:
        assert _Holder(value=value).value == value
    else:
        with pytest.raises(ValidationError):
            _Holder(value=value)


def test_compiled_regex_is_the_pattern() -> None:
    assert ID_REGEX.pattern == ID_PATTERN
    assert re.compile(ID_PATTERN).fullmatch("cam-01") is not None


def test_events_reexport_the_same_type() -> None:
    from contracts import events

    assert events.Identifier is Identifier
