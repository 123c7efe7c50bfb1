"""The gate's report: what was measured, every check, the verdict (JSON and Markdown)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from training.evaluate import HoldoutReport
from training.gate.decide import GateDecision
from training.gate.reviewed import ReviewedResult
from training.real_eval.records import RealSummary


class GatedModel(BaseModel):
    """One of the two models and what it did."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str
    file: str
    sha256: str
    reviewed: ReviewedResult
    holdout: HoldoutReport | None
    real: RealSummary | None


class GateReport(BaseModel):
    """``civicwatch models gate``'s report (``publish --gate-report`` records it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    created_at: datetime
    command: str
    machine: str
    split: str = Field(description="The reviewed-case export and split the models ran on.")
    candidate: GatedModel
    against: GatedModel
    decision: GateDecision

    @property
    def passed(self) -> bool:
        return self.decision.passed

    def verdict_line(self) -> str:
        word = "PASSED" if self.passed else "FAILED"
        failed = "; ".join(
            f"{c.material} {c.name}: {c.candidate:.3f} vs {c.against:.3f} ({c.rule})"
            for c in self.decision.failures
        )
        return f"gate {word}: {self.candidate.label} against {self.against.label}" + (
            f" — {failed}" if failed else ""
        )

    def markdown(self) -> str:
        c, a = self.candidate, self.against
        lines = [
            f"# Model gate: {c.label} against {a.label}",
            "",
            f"**{'PASSED' if self.passed else 'FAILED'}** ({self.created_at:%Y-%m-%d %H:%M} UTC, "
            f"{self.machine})",
            "",
            f"* candidate `{c.file}` sha256 `{c.sha256[:16]}…`",
            f"* against `{a.file}` sha256 `{a.sha256[:16]}…`",
            f"* reviewed split: {self.split} ({c.reviewed.images} frames, "
            f"{c.reviewed.hard_negatives} hard negatives, {c.reviewed.instances} labels, "
            f"deployment confidence {c.reviewed.confidence})",
            f"* command: `{self.command}`",
            "",
            "| material | check | candidate | against | rule | ok |",
            "|---|---|---:|---:|---|---|",
        ]
        for check in self.decision.checks:
            lines.append(
                f"| {check.material} | {check.name} | {_num(check.candidate)} | "
                f"{_num(check.against)} | {check.rule} | {'yes' if check.passed else '**no**'} |"
            )
        for reason in self.decision.skipped:
            lines.append(f"\nSkipped: {reason}")
        return "\n".join(lines) + "\n"

    def write(self, prefix: Path) -> tuple[Path, Path]:
        """Write ``PREFIX.json`` and ``PREFIX.md``; returns both paths."""
        prefix.parent.mkdir(parents=True, exist_ok=True)
        json_path = prefix.with_name(prefix.name + ".json")
        md_path = prefix.with_name(prefix.name + ".md")
        json_path.write_text(self.model_dump_json(indent=2) + "\n")
        md_path.write_text(self.markdown())
        return json_path, md_path


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) >= 1 else f"{value:.3f}"
