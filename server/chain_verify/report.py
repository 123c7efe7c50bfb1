"""The report every chain verification returns: a verdict, what was checked, each finding."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from pydantic import ValidationError

from contracts.chain import ChainFinding


@dataclass
class VerifyReport:
    """The result of one verification.

    Attributes:
        subject: What was verified (``case 12``, ``edge edge-1``, ``package case-12.zip``).
        findings: Errors (it does not verify) and notices (explained, not failures).
        checked: What was checked, by kind (records, event messages, evidence files).
    """

    subject: str
    findings: list[ChainFinding] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    def error(self, where: str, what: str) -> None:
        self.findings.append(ChainFinding("error", where, what))

    def notice(self, where: str, what: str) -> None:
        self.findings.append(ChainFinding("notice", where, what))

    def count(self, kind: str, n: int = 1) -> None:
        self.checked[kind] = self.checked.get(kind, 0) + n

    def lines(self) -> list[str]:
        """A human-readable report: verdict, counts, then every finding."""
        counts = ", ".join(f"{n} {kind}" for kind, n in sorted(self.checked.items()))
        errors = sum(1 for f in self.findings if f.severity == "error")
        verdict = "VERIFIED" if self.ok else f"FAILED ({errors} error(s))"
        return [f"{self.subject}: {verdict}; checked {counts or 'nothing'}"] + [
            f"  {finding}" for finding in self.findings
        ]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of ``data``, as lowercase hex (how the chain names messages and files)."""
    return hashlib.sha256(data).hexdigest()


def first_error(exc: ValidationError) -> str:
    """``location: message`` of a record's first validation error."""
    first = exc.errors(include_url=False, include_input=False)[0]
    loc = ".".join(str(p) for p in first["loc"]) or "record"
    return f"{loc}: {first['msg']}"
