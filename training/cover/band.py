"""The cover stage's voting band, calibrated on real crops, with a leave-one-out check.

A wrong accusation (an *uncovered* verdict on an empty or covered truck) is worse than a miss,
so the band is set from the real photos' classifier probabilities so that none of them is
wrongly accused, and the rest abstain:

* ``uncovered_p`` just above (``margin``) the highest p(uncovered) of an empty, partly or fully
  covered truck (folders 0, 1, 2);
* ``covered_p`` just below the lowest p(uncovered) of an uncovered load (folder 3), so no open
  load is called covered; kept below ``uncovered_p``.

Fitted on the same few photos it is judged on, such a band is right by construction, so
:func:`leave_one_out` calibrates it on all photos but one and votes on that one, for each
photo in turn: the honest number for a band fitted on the 14 checkpoint photos.
``python -m training.cover.band REPORT.json`` reads the JSON of ``civicwatch evaluate --real
--json`` and prints both for every model row.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from training.real_eval.records import CoverOutcome, TruckPhotoResult, Verdict, cover_outcome
from training.real_eval.run import RealEvalReport

DEFAULT_MARGIN = 0.02
"""Distance of each band edge from the nearest real probability it must keep out."""

_EDGE = 1e-3


@dataclass(frozen=True, slots=True)
class Band:
    """A voting band: uncovered at ``p >= uncovered_p``, covered at ``p <= covered_p``."""

    covered_p: float
    uncovered_p: float

    def verdict(self, p: float) -> Verdict | None:
        """The vote of one probability (``None``: unsure, no vote)."""
        if p >= self.uncovered_p:
            return "uncovered"
        if p <= self.covered_p:
            return "covered"
        return None


def calibrate_band(photos: Sequence[TruckPhotoResult], margin: float = DEFAULT_MARGIN) -> Band:
    """The band that wrongly accuses none of ``photos`` and calls none of their open loads
    covered (photos without a probability are ignored). Without any empty or covered truck
    it accuses only at p >= 0.999; without any open load it says covered only at p <= 0.001.

    Raises:
        ValueError: If ``margin`` is not in [0, 0.5).
    """
    if not 0.0 <= margin < 0.5:
        raise ValueError(f"margin must be in [0, 0.5), got {margin}")
    scored = [(t.folder, t.p_uncovered) for t in photos if t.p_uncovered is not None]
    accusable = [p for f, p in scored if f != 3]
    uncovered = [p for f, p in scored if f == 3]
    # no evidence on a side: that verdict is never given (the band abstains)
    high = max(min(max(accusable, default=1.0) + margin, 1.0 - _EDGE), 2 * _EDGE)
    low = max(min(uncovered, default=0.0) - margin, _EDGE)
    return Band(covered_p=min(low, high - _EDGE), uncovered_p=high)


@dataclass(frozen=True, slots=True)
class LooResult:
    """One photo's verdict under the band calibrated on all the others."""

    file: str
    folder: int
    p_uncovered: float | None
    band: Band
    verdict: Verdict | None

    @property
    def outcome(self) -> CoverOutcome:
        """The verdict scored against the folder."""
        return cover_outcome(self.folder, self.verdict)


def leave_one_out(
    photos: Sequence[TruckPhotoResult], margin: float = DEFAULT_MARGIN
) -> list[LooResult]:
    """Each photo voted by the band calibrated on the others (no probability: no verdict)."""
    out = []
    for k, t in enumerate(photos):
        band = calibrate_band([o for j, o in enumerate(photos) if j != k], margin)
        verdict = band.verdict(t.p_uncovered) if t.p_uncovered is not None else None
        out.append(LooResult(t.file, t.folder, t.p_uncovered, band, verdict))
    return out


def summary_line(label: str, photos: Sequence[TruckPhotoResult], margin: float) -> str:
    """One Markdown row: the band on all photos, then the leave-one-out counts."""
    band = calibrate_band(photos, margin)
    outcomes = [r.outcome for r in leave_one_out(photos, margin)]
    loaded = sum(o.loaded for o in outcomes)
    decided = sum(o.decided for o in outcomes)
    right = sum(o.right for o in outcomes)
    accused = sum(o.wrongly_accused for o in outcomes)
    accusable = sum(t.folder != 3 for t in photos)
    return (
        f"| {label} | covered <= {band.covered_p:.3f}, uncovered >= {band.uncovered_p:.3f} "
        f"| {decided}/{loaded} | {right} / {decided - right} | {accused} of {accusable} |"
    )


def main(argv: list[str] | None = None) -> int:
    """Print the calibrated band and its leave-one-out check for every model row."""
    parser = argparse.ArgumentParser(prog="python -m training.cover.band", description=__doc__)
    parser.add_argument("report", type=Path, help="JSON of civicwatch evaluate --real --json")
    parser.add_argument("--margin", type=float, default=DEFAULT_MARGIN)
    args = parser.parse_args(argv)
    report = RealEvalReport.model_validate_json(args.report.read_text())
    lines = [
        "| model | band calibrated on all photos | leave-one-out: decided (loaded) "
        "| right / wrong | wrongly accused |",
        "|---|---|---:|---:|---:|",
    ]
    lines += [summary_line(m.model, m.trucks, args.margin) for m in report.models]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
