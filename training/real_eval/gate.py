"""The publish gate: may a model replace the default, judged on the real table?

A candidate is **worse** than the current default when, on the same real material, it

1. puts a stall or goods box on a larger share of the no-violation clip frames;
2. finds a truck on fewer truck photos;
3. wrongly accuses more empty or covered trucks (an uncovered verdict on folder 0, 1 or 2);
4. finds a stall or goods on fewer of the photos that show them (a model that stops firing
   must not pass by having no false boxes).

Any one of these refuses it as the default; ``civicwatch publish --force-default`` overrides,
and the card records the override with these reasons.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from training.real_eval.records import RealSummary


def _pct(value: float) -> str:
    return f"{100.0 * value:.1f} %"


def worse_than_default(candidate: RealSummary, default: RealSummary) -> list[str]:
    """Why ``candidate`` is worse than ``default`` on the real table (empty: not worse).

    Raises:
        ValueError: If the two were not measured on the same material (frame and photo
            counts differ), so they cannot be compared.
    """
    same = (candidate.clip_frames, candidate.trucks, candidate.stall_photos) == (
        default.clip_frames,
        default.trucks,
        default.stall_photos,
    )
    if not same:
        raise ValueError(
            f"{candidate.model} and {default.model} were measured on different material "
            f"(clip frames {candidate.clip_frames} vs {default.clip_frames}, truck photos "
            f"{candidate.trucks} vs {default.trucks}, stall photos {candidate.stall_photos} vs "
            f"{default.stall_photos})"
        )
    reasons = []
    if candidate.false_frames > default.false_frames:
        reasons.append(
            f"stall/goods boxes on {_pct(candidate.false_share)} of the no-violation clip frames "
            f"(default {default.model}: {_pct(default.false_share)})"
        )
    if candidate.trucks_found < default.trucks_found:
        reasons.append(
            f"truck found on {candidate.trucks_found} of {candidate.trucks} truck photos "
            f"(default: {default.trucks_found})"
        )
    if candidate.wrongly_accused > default.wrongly_accused:
        reasons.append(
            f"{candidate.wrongly_accused} wrongly accused empty or covered trucks "
            f"(default: {default.wrongly_accused})"
        )
    if candidate.stall_found < default.stall_found:
        reasons.append(
            f"stall/goods found on {candidate.stall_found} of {candidate.stall_photos} photos "
            f"showing them (default: {default.stall_found})"
        )
    return reasons


class DefaultRefusedError(ValueError):
    """The candidate is worse than the current default on the real table."""


class DefaultGate(BaseModel):
    """The gate's decision on making a published model the default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    candidate: str = Field(description="The candidate's table label.")
    default: str | None = Field(description="The current default's label; None: there is none.")
    reasons: list[str] = Field(description="Why the candidate is worse (empty: it is not).")
    forced: bool = Field(description="Made the default over those reasons (--force-default).")

    def card_line(self) -> str:
        """What the model card says about the decision."""
        against = f"the previous default {self.default}" if self.default else "no previous default"
        if not self.reasons:
            return f"Made the default: not worse than {against} on the real table."
        why = "; ".join(self.reasons)
        return (
            f"Made the default with `--force-default` although worse than {against} on the "
            f"real table: {why}."
        )


def decide_default(
    candidate: RealSummary, default: RealSummary | None, *, force: bool = False
) -> DefaultGate:
    """Whether ``candidate`` may become the default (see the module's rules).

    Raises:
        DefaultRefusedError: It is worse than ``default`` and ``force`` is not set; the
            message lists why.
        ValueError: The two were measured on different material.
    """
    reasons = worse_than_default(candidate, default) if default is not None else []
    if reasons and not force:
        raise DefaultRefusedError(
            f"{candidate.model} is worse than the default {default.model if default else ''} "
            f"on the real table: {'; '.join(reasons)}. Publish without --make-default to "
            "register it without making it the default, or pass --force-default (recorded in "
            "the card)."
        )
    return DefaultGate(
        candidate=candidate.model,
        default=default.model if default is not None else None,
        reasons=reasons,
        forced=bool(reasons),
    )
