"""``configs/rules.md`` against the code: every key of every documented model, every default.

The doc is written by hand (its "meaning" column says more than a field description can),
so this test reads its tables back: each table sits under a heading that names its model
(:data:`SPECS`), lists every key of that model (nested blocks as ``stationary.after_s``), and
gives each key the default the model really has. A default changed in the code and not in
the doc (or the other way round), a key added without a row, or a row for a key that no
longer exists fails here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path, PurePath
from typing import Final

import pytest
import yaml
from pydantic import BaseModel

from edge.rules.settings import (
    ConstructionSettings,
    CrossDoorSettings,
    MuckTruckSettings,
    RulesSettings,
    SensorLimit,
    StallDwellSettings,
)
from edge.sensors import SensorsConfig
from edge.tracking import ByteTrackSettings, SimpleTrackerSettings
from zones import Zone

DOC = Path(__file__).resolve().parents[3] / "configs" / "rules.md"


class _Marker(Enum):
    REQUIRED = "required"
    SEE_BELOW = "see below"


REQUIRED: Final = _Marker.REQUIRED
SEE_BELOW: Final = _Marker.SEE_BELOW
DEFAULT_LIMITS = "Default `sensor_limits`"


@dataclass(frozen=True)
class Spec:
    """The model a table documents; ``elsewhere``: nested blocks that have their own table."""

    model: type[BaseModel]
    elsewhere: frozenset[str] = field(default_factory=frozenset)


SPECS: dict[str, Spec] = {
    "Zone file: per-zone settings": Spec(Zone),
    "`bytetrack`": Spec(ByteTrackSettings),
    "`simple`": Spec(SimpleTrackerSettings),
    "Rules (`rules:` in the edge config)": Spec(
        RulesSettings, frozenset({"stall_dwell", "cross_door", "muck_truck", "construction"})
    ),
    "`stall_dwell`": Spec(StallDwellSettings),
    "`cross_door`": Spec(CrossDoorSettings),
    "`muck_truck`": Spec(MuckTruckSettings),
    "`construction`": Spec(ConstructionSettings),
    "`sensor_limits` entries": Spec(SensorLimit),
    "IoT sensors": Spec(SensorsConfig),
}
"""Heading (its start) -> the model its table documents."""


@dataclass(frozen=True)
class Table:
    """One markdown table and the heading it stands under."""

    heading: str
    line: int
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def column(self, name: str) -> int:
        return self.header.index(name)


def _cells(line: str) -> tuple[str, ...]:
    inner = line.strip().removeprefix("|").removesuffix("|")
    return tuple(c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", inner))


def parse_tables(text: str) -> list[Table]:
    """Every table of a markdown text, with the nearest heading above it."""
    tables: list[Table] = []
    heading = ""
    lines = text.splitlines()
    k = 0
    while k < len(lines):
        line = lines[k]
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        elif line.startswith("|") and k + 1 < len(lines) and lines[k + 1].startswith("|---"):
            start = k
            header = _cells(line)
            k += 2
            rows: list[tuple[str, ...]] = []
            while k < len(lines) and lines[k].startswith("|"):
                rows.append(_cells(lines[k]))
                k += 1
            tables.append(Table(heading, start + 1, header, tuple(rows)))
            continue
        k += 1
    return tables


def parse_default(cell: str) -> object:
    """A default cell as a value: ``required``, ``-`` / ``none`` (None), or a YAML scalar.

    Text after the value (``[]` (always)``) is commentary and ignored.
    """
    text = cell.strip()
    if text.startswith("required"):
        return REQUIRED
    if text.startswith("see below"):
        return SEE_BELOW
    if text == "-" or text.startswith("none"):
        return None
    quoted = re.match(r"`([^`]*)`", text)
    return yaml.safe_load(quoted.group(1) if quoted else text.split()[0])


def _plain(value: object) -> object:
    """A default as the doc writes it: paths and enums as text, tuples as lists."""
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value


def _nested_model(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def model_defaults(
    model: type[BaseModel], elsewhere: frozenset[str] = frozenset()
) -> dict[str, object]:
    """``key -> default`` of every documented key, nested blocks flattened with dots."""
    out: dict[str, object] = {}
    for name, info in model.model_fields.items():
        if name in elsewhere:
            continue
        nested = _nested_model(info.annotation)
        if nested is not None:
            out.update({f"{name}.{k}": v for k, v in model_defaults(nested).items()})
        elif info.is_required():
            out[name] = REQUIRED
        else:
            out[name] = _plain(info.get_default(call_default_factory=True))
    return out


def documented_defaults(table: Table) -> dict[str, object]:
    """``key -> default`` as a table writes it (``a` / `b`` rows split into their keys)."""
    key_col, default_col = table.column("key"), table.column("default")
    out: dict[str, object] = {}
    for row in table.rows:
        keys = re.findall(r"`([^`]+)`", row[key_col])
        values = row[default_col].split(" / ") if len(keys) > 1 else [row[default_col]]
        assert len(keys) == len(values), f"rules.md:{table.line}: {row}: keys and defaults"
        for key, value in zip(keys, values, strict=True):
            assert key not in out, f"rules.md:{table.line}: {key} listed twice"
            out[key] = parse_default(value)
    return out


def _same(documented: object, actual: object) -> bool:
    if isinstance(actual, bool) or isinstance(documented, bool):
        return documented is actual
    return documented == actual


def mismatches(table: Table, spec: Spec) -> list[str]:
    """What the table gets wrong about its model; empty when it is right."""
    doc = documented_defaults(table)
    code = model_defaults(spec.model, spec.elsewhere)
    name = spec.model.__name__
    problems = [f"{name}.{k} is not documented" for k in code if k not in doc]
    problems += [f"rules.md documents {k}, which {name} lacks" for k in doc if k not in code]
    for key in doc.keys() & code.keys():
        documented, actual = doc[key], code[key]
        if documented is SEE_BELOW and isinstance(actual, list) and actual:
            continue  # a list of entries, checked against its own table
        if not _same(documented, actual):
            problems.append(f"{name}.{key}: rules.md says {documented!r}, the code {actual!r}")
    return problems


def _spec_for(heading: str) -> Spec | None:
    return next((s for h, s in SPECS.items() if heading.startswith(h)), None)


@pytest.fixture(scope="module")
def tables() -> list[Table]:
    return parse_tables(DOC.read_text(encoding="utf-8"))


def test_every_table_is_checked(tables: list[Table]) -> None:
    unchecked = [
        f"rules.md:{t.line} under {t.heading!r}"
        for t in tables
        if _spec_for(t.heading) is None and t.heading != DEFAULT_LIMITS
    ]
    assert not unchecked


@pytest.mark.parametrize("heading", list(SPECS))
def test_table_lists_every_key_with_its_default(tables: list[Table], heading: str) -> None:
    found = [t for t in tables if t.heading.startswith(heading)]
    assert len(found) == 1, f"one table under a heading starting {heading!r}, found {len(found)}"
    assert mismatches(found[0], SPECS[heading]) == []


def test_default_sensor_limits(tables: list[Table]) -> None:
    (table,) = [t for t in tables if t.heading == DEFAULT_LIMITS]
    documented = [
        {col: parse_default(cell) for col, cell in zip(table.header, row, strict=True)}
        for row in table.rows
    ]
    actual = _plain(ConstructionSettings().sensor_limits)
    assert documented == actual


SAMPLE = """## `bytetrack`

| key | default | meaning |
|---|---|---|
| `type` | `bytetrack` | x |
| `high_score` / `low_score` / `new_track_score` | 0.3 / 0.1 / 0.35 | x |
| `match_iou` / `low_match_iou` / `tentative_match_iou` | 0.2 / 0.5 / 0.3 | x |
| `centroid_max_dist` | 1.0 | x |
| `max_missed` | 10 | x |
| `reverify_every` | 20 | x |
| `class_aware` | true | x |
| `stationary.after_s` | 10 | x |
| `stationary.max_shift` | 0.25 | x |
"""


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (("", ""), None),
        (
            ("| `max_missed` | 10 |", "| `max_missed` | 11 |"),
            "max_missed: rules.md says 11, the code 10",
        ),
        (("| true |", "| false |"), "class_aware: rules.md says False, the code True"),
        (("| true |", "| 1 |"), "class_aware: rules.md says 1, the code True"),
        (("0.3 / 0.1", "0.3 / 0.2"), "low_score: rules.md says 0.2, the code 0.1"),
        (("| `reverify_every` | 20 | x |\n", ""), "reverify_every is not documented"),
        (("`class_aware`", "`class_awareness`"), "documents class_awareness, which"),
        (("| `type` | `bytetrack` |", "| `type` | `simple` |"), "type: rules.md says 'simple'"),
    ],
    ids=[
        "as in the code",
        "number",
        "bool",
        "bool as number",
        "in a / row",
        "missing",
        "unknown",
        "text",
    ],
)
def test_the_check_catches_a_drifted_doc(edit: tuple[str, str], problem: str | None) -> None:
    (table,) = parse_tables(SAMPLE.replace(*edit) if edit[0] else SAMPLE)
    found = mismatches(table, SPECS["`bytetrack`"])
    if problem is None:
        assert found == []
    else:
        assert any(problem in f for f in found), found


@pytest.mark.parametrize(
    ("cell", "value"),
    [
        ("required", REQUIRED),
        ("-", None),
        ("none (entering counts)", None),
        ("`[]` (always)", []),
        ("`[0, 0]`", [0, 0]),
        ("0.25", 0.25),
        ("10000", 10_000),
        ("true", True),
        ("`models/cover-v1.onnx`", "models/cover-v1.onnx"),
        ("see below", SEE_BELOW),
    ],
)
def test_parse_default(cell: str, value: object) -> None:
    assert parse_default(cell) == value


def test_escaped_pipes_stay_in_their_cell() -> None:
    assert _cells("| `a` | `x\\|y` | z |") == ("`a`", "`x|y`", "z")
