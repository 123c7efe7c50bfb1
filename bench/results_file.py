"""``bench/RESULTS.md``: each benchmark owns one ``## `` section and rewrites only that one."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().with_name("RESULTS.md")
"""The results file next to the benchmarks."""


def write_section(text: str, *, heading: str, path: Path = RESULTS) -> None:
    """Replace (or append) one section of the results file; the others stay untouched.

    Args:
        text: The new section, starting with its ``heading`` line.
        heading: The section's heading line, e.g. ``"## Rules"``.
        path: The results file (created with a title if absent).

    Raises:
        ValueError: If ``text`` does not start with ``heading``.
    """
    if text.splitlines()[:1] != [heading]:
        raise ValueError(f"section text must start with its heading {heading!r}")
    old = path.read_text(encoding="utf-8") if path.is_file() else "# Benchmark results\n"
    lines = old.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == heading), None)
    if start is None:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        end = next(
            (j for j in range(start + 1, len(lines)) if lines[j].startswith("## ")), len(lines)
        )
        tail = "".join(lines[end:])
        new = "".join(lines[:start]) + text + ("\n" + tail if tail else "")
    path.write_text(new, encoding="utf-8")
