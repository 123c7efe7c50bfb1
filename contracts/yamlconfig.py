"""YAML config files validated by pydantic, with every problem reported as ``file:line: ...``.

Every YAML loader of civicwatch (zone files, the edge config, the model registry) reads
through here, so each of them names the file and the line of every problem, suggests the
nearest key for an unknown one ("did you mean"), reports keys given twice (which YAML would
silently collapse) and reports YAML syntax errors at their line.

Example:
    >>> from pydantic import BaseModel, ConfigDict
    >>> class Camera(BaseModel):
    ...     model_config = ConfigDict(extra="forbid")
    ...     id: str
    ...     fps: float = 2.0
    >>> document = parse_yaml("id: cam1\\nfsp: 5\\n", source=Path("edge.yaml"))
    >>> try:
    ...     validate_document(document, Camera)
    ... except ConfigError as exc:
    ...     print(exc.problems[0])
    edge.yaml:2: unknown key 'fsp'; did you mean 'fps'?
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

Loc = tuple[int | str, ...]
"""A location in a document: mapping keys and sequence indices, as in pydantic errors."""

ModelT = TypeVar("ModelT", bound=BaseModel)


class ConfigError(ValueError):
    """A config file that cannot be used; ``problems`` lists everything wrong with it.

    Attributes:
        path: The file.
        problems: One line per problem, each starting with ``path:`` (and mostly ``line:``).
    """

    def __init__(self, path: Path, problems: Sequence[str]) -> None:
        self.path = path
        self.problems = list(problems)
        count = len(self.problems)
        header = f"{path}: {count} problem{'s' if count != 1 else ''}"
        super().__init__("\n".join([header, *self.problems]))


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem at one line of a document.

    Attributes:
        line: 1-based line.
        message: What is wrong, without the file and line.
    """

    line: int
    message: str


@dataclass(frozen=True, slots=True)
class YamlDocument:
    """A parsed YAML mapping with its node tree, which knows the line of every value.

    Attributes:
        source: The file, named in every message.
        root: The composed node tree (``None`` for an empty document).
        data: The document's content.
    """

    source: Path
    root: yaml.Node | None
    data: dict[str, Any]

    def resolve(self, loc: Loc) -> tuple[Loc, int]:
        """Follow ``loc`` through the document.

        Parts that name nothing in the document (such as a union's tag in a pydantic error)
        are skipped, except the last, which may be a missing key.

        Returns:
            The location without the skipped parts, and the 1-based line to report: the
            key's own line for a key given in the document, the line of the key that holds
            the mapping (or of the sequence item) for one missing from it.
        """
        node = self.root
        if node is None:
            return loc, 1
        kept: list[int | str] = []
        owner: yaml.Node = node  # the key holding ``node``, or ``node`` itself
        for index, part in enumerate(loc):
            last = index == len(loc) - 1
            key, child = _child(node, part)
            if child is None:
                if last:
                    kept.append(part)
                continue
            kept.append(part)
            node, owner = child, key if key is not None else child
        return tuple(kept), int(owner.start_mark.line) + 1

    def line_of(self, loc: Loc) -> int:
        """1-based line of the deepest node that ``loc`` reaches."""
        return self.resolve(loc)[1]

    def render(self, problem: Problem) -> str:
        """``source:line: message``."""
        return f"{self.source}:{problem.line}: {problem.message}"


def _child(node: yaml.Node, part: int | str) -> tuple[yaml.Node | None, yaml.Node | None]:
    """The key node and value node that ``part`` selects in ``node`` (``None`` if none)."""
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        found: tuple[yaml.Node | None, yaml.Node | None] = (None, None)
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == part:
                found = (key, value)  # the last of equal keys, as YAML keeps
        return found
    if (
        isinstance(node, yaml.SequenceNode)
        and isinstance(part, int)
        and 0 <= part < len(node.value)
    ):
        return None, node.value[part]
    return None, None


ErrorType = Callable[[Path, Sequence[str]], ConfigError]
"""A :class:`ConfigError` (sub)class, or anything that builds one from a path and problems."""


def read_yaml(
    path: Path,
    *,
    expected: str = "a mapping",
    allow_empty: bool = False,
    error: ErrorType = ConfigError,
) -> YamlDocument:
    """Read and parse a YAML file whose top level is a mapping.

    Args:
        path: The file.
        expected: What the top level should be, for messages ("a mapping with ...").
        allow_empty: Take an empty file as an empty mapping instead of refusing it.
        error: The :class:`ConfigError` (sub)class to raise.

    Raises:
        ConfigError: If the file cannot be read, is not YAML, is empty or is no mapping.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(path, [f"{path}: cannot read: {exc}"]) from exc
    return parse_yaml(text, source=path, expected=expected, allow_empty=allow_empty, error=error)


def parse_yaml(
    text: str,
    *,
    source: Path,
    expected: str = "a mapping",
    allow_empty: bool = False,
    error: ErrorType = ConfigError,
) -> YamlDocument:
    """Parse YAML text whose top level is a mapping; ``source`` names it in messages.

    Args:
        text: The YAML text.
        source: The file it came from.
        expected: What the top level should be, for messages.
        allow_empty: Take an empty document as an empty mapping instead of refusing it.
        error: The :class:`ConfigError` (sub)class to raise.

    Raises:
        ConfigError: If the text is not YAML (naming the line), is empty or is no mapping.
    """
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else f"{source}"
        parts = [getattr(exc, "context", None), getattr(exc, "problem", None)]
        problem = "; ".join(p for p in parts if p) or str(exc)
        raise error(source, [f"{where}: not valid YAML: {problem}"]) from exc
    finally:
        loader.dispose()
    if root is None or data is None:
        if allow_empty:
            return YamlDocument(source, None, {})
        raise error(source, [f"{source}: file is empty; expected {expected}"])
    if not isinstance(data, dict):
        line = int(root.start_mark.line) + 1
        got = type(data).__name__
        raise error(source, [f"{source}:{line}: expected {expected}, got {got}"])
    return YamlDocument(source, root, data)


def format_loc(loc: Loc) -> str:
    """Render a location as a path: ``cameras[0].source.url``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def models_at(model: type[BaseModel], loc: Loc) -> list[type[BaseModel]]:
    """The pydantic models whose fields may appear at ``loc`` (none for a plain value).

    Indices of lists and keys of dicts keep the models of their elements; a key that no
    model there has leaves them as they are (a dict's own key).
    """
    models = [model]
    for part in loc:
        if isinstance(part, int):
            continue
        owners = [m for m in models if part in m.model_fields]
        if owners:
            models = [sub for m in owners for sub in _models_in(m.model_fields[part].annotation)]
    return models


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """Every model class an annotation can hold, through unions, Annotated and containers."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _models_in(args[0])
    if origin in (dict, Mapping):
        return _models_in(args[-1]) if args else []
    found: list[type[BaseModel]] = []
    for arg in args:
        found.extend(m for m in _models_in(arg) if m not in found)
    return found


def did_you_mean(key: str, model: type[BaseModel], loc: Loc) -> str:
    """``"; did you mean 'x'?"`` naming the field at ``loc`` closest to ``key``, or ``""``."""
    names = sorted({name for m in models_at(model, loc) for name in m.model_fields})
    close = difflib.get_close_matches(key, names, n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def describe_error(error: ErrorDetails, document: YamlDocument, model: type[BaseModel]) -> Problem:
    """Turn one pydantic error into one line: where, what, and a suggestion for a typo.

    Args:
        error: One entry of ``ValidationError.errors()``.
        document: The document that was validated.
        model: The model it was validated against.
    """
    loc, line = document.resolve(tuple(error["loc"]))
    kind = error["type"]
    if kind in ("extra_forbidden", "missing") and loc and isinstance(loc[-1], str):
        where = format_loc(loc[:-1])
        prefix = f"{where}: " if where else ""
        if kind == "missing":
            return Problem(line, f"{prefix}missing key '{loc[-1]}'")
        hint = did_you_mean(loc[-1], model, loc[:-1])
        return Problem(line, f"{prefix}unknown key '{loc[-1]}'{hint}")
    message = error["msg"]
    value = error.get("input")
    if value is not None and not isinstance(value, dict | list):
        message = f"{message} (got {value!r})"
    where = format_loc(loc)
    return Problem(line, f"{where}: {message}" if where else message)


def duplicate_keys(
    document: YamlDocument, label: Callable[[Loc], str | None] = format_loc
) -> list[Problem]:
    """Keys given twice in one mapping: YAML silently keeps the last, so report them.

    Args:
        document: The parsed document.
        label: Names the mapping at a location in messages (empty or ``None``: no prefix).
    """
    found: list[Problem] = []

    def check(node: yaml.MappingNode, loc: Loc) -> None:
        seen: dict[str, int] = {}
        for key, _ in node.value:
            if not isinstance(key, yaml.ScalarNode):
                continue
            line = int(key.start_mark.line) + 1
            if key.value in seen:
                name = label(loc)
                where = f"{name}: " if name else ""
                found.append(
                    Problem(
                        line,
                        f"{where}duplicate key '{key.value}' (first on line {seen[key.value]}); "
                        "YAML would silently keep only the last",
                    )
                )
            else:
                seen[key.value] = line

    def walk(node: yaml.Node, loc: Loc) -> None:
        if isinstance(node, yaml.MappingNode):
            check(node, loc)
            for key, value in node.value:
                part = key.value if isinstance(key, yaml.ScalarNode) else "?"
                walk(value, (*loc, part))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, (*loc, index))

    if document.root is not None:
        walk(document.root, ())
    return found


Describe = Callable[[ErrorDetails, YamlDocument], Problem]
"""Turns one pydantic error of a document into one problem."""


def validate_document(
    document: YamlDocument,
    model: type[ModelT],
    *,
    describe: Describe | None = None,
    label: Callable[[Loc], str | None] = format_loc,
    error: ErrorType = ConfigError,
) -> ModelT:
    """Validate a parsed document against ``model``, collecting every problem.

    Args:
        document: The parsed document.
        model: The pydantic model of the whole file.
        describe: Renders one pydantic error (default :func:`describe_error`).
        label: Names a mapping in duplicate-key messages.
        error: The :class:`ConfigError` (sub)class to raise.

    Raises:
        ConfigError: Listing every problem in file order (problems on one line keep
            pydantic's order).
    """
    found = duplicate_keys(document, label)
    try:
        result = model.model_validate(document.data)
    except ValidationError as exc:
        for details in exc.errors():
            if describe is None:
                found.append(describe_error(details, document, model))
            else:
                found.append(describe(details, document))
    else:
        if not found:
            return result
    ordered = sorted(found, key=lambda p: p.line)
    raise error(document.source, [document.render(p) for p in ordered])


def load_yaml_model(
    path: Path,
    model: type[ModelT],
    *,
    expected: str = "a mapping",
    error: ErrorType = ConfigError,
) -> ModelT:
    """Read a YAML file and validate it against ``model``.

    Args:
        path: The file.
        model: The pydantic model of the whole file.
        expected: What the top level should be, for messages.
        error: The :class:`ConfigError` (sub)class to raise.

    Raises:
        ConfigError: If the file cannot be read, is not YAML, or breaks the model; the
            error lists every problem, each as ``file:line: message``.
    """
    document = read_yaml(path, expected=expected, error=error)
    return validate_document(document, model, error=error)


__all__ = [
    "ConfigError",
    "Describe",
    "ErrorType",
    "Loc",
    "Problem",
    "YamlDocument",
    "describe_error",
    "did_you_mean",
    "duplicate_keys",
    "format_loc",
    "load_yaml_model",
    "models_at",
    "parse_yaml",
    "read_yaml",
    "validate_document",
]
