"""YAML config loading: every problem as ``file:line: message``, with did-you-mean."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from contracts.yamlconfig import (
    ConfigError,
    YamlDocument,
    format_loc,
    load_yaml_model,
    models_at,
    parse_yaml,
    validate_document,
)

SOURCE = Path("conf/edge.yaml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Onnx(_Strict):
    type: Literal["onnx"]
    model: str
    threshold: float = 0.5


class Fake(_Strict):
    type: Literal["fake"]
    boxes: int = 0


class Source(_Strict):
    url: str
    fps: float = Field(2.0, gt=0)


class Camera(_Strict):
    id: str
    source: Source
    enabled: bool = True


class Config(_Strict):
    edge_id: str
    detector: Annotated[Onnx | Fake, Field(discriminator="type")]
    cameras: list[Camera] = Field(min_length=1)
    labels: dict[str, Source] = Field(default_factory=dict)
    note: Source | None = None


GOOD = """\
edge_id: e1
detector: {type: onnx, model: m.onnx}
cameras:
  - id: cam1
    source:
      url: rtsp://x
"""


def _problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        validate_document(parse_yaml(text, source=SOURCE), Config)
    assert info.value.path == SOURCE
    assert all(p.startswith(f"{SOURCE}") for p in info.value.problems)
    return info.value.problems


def test_valid_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "edge.yaml"
    path.write_text(GOOD)
    config = load_yaml_model(path, Config)
    assert config.cameras[0].source.url == "rtsp://x"
    assert isinstance(config.detector, Onnx)


# (case id, YAML text, the single problem expected, without the file name)
BAD: list[tuple[str, str, str]] = [
    ("empty file", "", "file is empty; expected a mapping"),
    ("only a comment", "# nothing\n", "file is empty; expected a mapping"),
    ("a list", "- a\n- b\n", ":1: expected a mapping, got list"),
    ("a scalar", "\n\nhello\n", ":3: expected a mapping, got str"),
    ("syntax error", "edge_id: e1\ncameras: [\n", ":3: not valid YAML"),
    ("bad indentation", "edge_id: e1\n  detector: x\n", ":2: not valid YAML"),
    ("two documents", "a: 1\n---\nb: 2\n", ":2: not valid YAML: expected a single document"),
    ("unsafe tag", "edge_id: !!python/object:os.system x\n", ":1: not valid YAML"),
    (
        "unknown top key with suggestion",
        GOOD + "edge_idd: e2\n",
        ":7: unknown key 'edge_idd'; did you mean 'edge_id'?",
    ),
    ("unknown key without suggestion", GOOD + "colour: red\n", ":7: unknown key 'colour'"),
    (
        "unknown nested key in a list item",
        GOOD + "    enabeld: false\n",
        ":7: cameras[0]: unknown key 'enabeld'; did you mean 'enabled'?",
    ),
    (
        "unknown key two models deep",
        GOOD + "      fsp: 5\n",
        ":7: cameras[0].source: unknown key 'fsp'; did you mean 'fps'?",
    ),
    (
        "unknown key in a union member (the tag is not a key)",
        GOOD.replace("model: m.onnx}", "model: m.onnx, treshold: 0.3}"),
        ":2: detector: unknown key 'treshold'; did you mean 'threshold'?",
    ),
    (
        "unknown key in a dict value",
        GOOD + "labels:\n  a: {url: u, fpss: 1}\n",
        ":8: labels.a: unknown key 'fpss'; did you mean 'fps'?",
    ),
    (
        "unknown key in an optional model",
        GOOD + "note: {url: u, uri: v}\n",
        ":7: note: unknown key 'uri'; did you mean 'url'?",
    ),
    (
        "wrong type at its line",
        GOOD + "      fps: fast\n",
        ":7: cameras[0].source.fps: Input should be a valid number, unable to parse string "
        "as a number (got 'fast')",
    ),
    ("out of range", GOOD + "      fps: 0\n", ":7: cameras[0].source.fps: Input should be greater"),
    (
        "missing key",
        "detector: {type: fake}\ncameras: [{id: c, source: {url: u}}]\n",
        "missing key 'edge_id'",
    ),
    (
        "missing nested key",
        GOOD.replace("      url: rtsp://x\n", "      fps: 3\n"),
        ":5: cameras[0].source: missing key 'url'",
    ),
    ("wrong union tag", GOOD.replace("type: onnx", "type: tflite"), ":2: detector: "),
    (
        "duplicate key",
        GOOD + "    enabled: true\n    enabled: false\n",
        ":8: cameras[0]: duplicate key 'enabled' (first on line 7); YAML would silently keep",
    ),
    (
        "duplicate top key",
        GOOD + "edge_id: e2\n",
        ":7: duplicate key 'edge_id' (first on line 1)",
    ),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_file_gives_one_problem_at_its_line(text: str, expected: str) -> None:
    problems = _problems(text)
    assert len(problems) == 1, problems
    assert expected in problems[0], problems[0]
    if expected.startswith(":"):
        assert problems[0].startswith(f"{SOURCE}{expected.split(' ', 1)[0]}")


def test_every_problem_is_listed_in_file_order() -> None:
    text = "cameras:\n  - id: c\n    source: {url: u, fps: -1}\n  - {id: d, sorce: {}}\nedge: 1\n"
    problems = _problems(text)
    lines = [int(p.split(":")[1]) for p in problems]
    assert lines == sorted(lines)
    messages = [p.split(": ", 1)[1] for p in problems]
    assert messages == [
        "missing key 'edge_id'",
        "missing key 'detector'",
        "cameras[0].source.fps: Input should be greater than 0 (got -1)",
        "cameras[1]: missing key 'source'",
        "cameras[1]: unknown key 'sorce'; did you mean 'source'?",
        "unknown key 'edge'; did you mean 'edge_id'?",
    ]


def test_error_text_has_a_header_and_every_problem() -> None:
    with pytest.raises(ConfigError) as info:
        validate_document(parse_yaml("a: 1\nb: 2\n", source=SOURCE), Config)
    text = str(info.value).splitlines()
    assert text[0] == f"{SOURCE}: 5 problems"
    assert text[1:] == info.value.problems
    assert str(ConfigError(SOURCE, ["x"])).splitlines()[0] == f"{SOURCE}: 1 problem"


def test_unreadable_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: cannot read"):
        load_yaml_model(tmp_path / "nope.yaml", Config)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match=r"bin\.yaml: cannot read"):
        load_yaml_model(binary, Config)


def test_empty_document_allowed_when_asked() -> None:
    document = parse_yaml("# nothing\n", source=SOURCE, allow_empty=True)
    assert document.data == {} and document.root is None
    assert document.line_of(("a", 0)) == 1


class _MyError(ConfigError):
    pass


def _my_error(path: Path, problems: Sequence[str]) -> ConfigError:
    return _MyError(path, problems)


@pytest.mark.parametrize("text", ["", "x: [", "a: 1\n"])
def test_the_callers_error_class_is_raised(tmp_path: Path, text: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(_MyError):
        load_yaml_model(path, Config, error=_my_error)


def test_resolve_skips_parts_that_are_not_in_the_file() -> None:
    document: YamlDocument = parse_yaml(GOOD, source=SOURCE)
    assert document.resolve(("detector", "onnx", "model")) == (("detector", "model"), 2)
    assert document.resolve(("cameras", 0, "source", "url")) == (
        ("cameras", 0, "source", "url"),
        6,
    )
    assert document.resolve(("cameras", 3)) == (("cameras", 3), 3)
    assert document.resolve(()) == ((), 1)


@pytest.mark.parametrize(
    ("loc", "expected"),
    [
        ((), ""),
        (("a",), "a"),
        (("cameras", 0, "source", "url"), "cameras[0].source.url"),
        ((0, "x"), "[0].x"),
    ],
)
def test_format_loc(loc: tuple[int | str, ...], expected: str) -> None:
    assert format_loc(loc) == expected


def test_models_at() -> None:
    assert models_at(Config, ()) == [Config]
    assert models_at(Config, ("detector",)) == [Onnx, Fake]
    assert models_at(Config, ("cameras", 0, "source")) == [Source]
    assert models_at(Config, ("labels", "any")) == [Source]
    assert models_at(Config, ("note",)) == [Source]
    assert models_at(Config, ("edge_id",)) == []
