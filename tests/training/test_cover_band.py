"""The cover stage's voting band calibrated on real crops (training.cover.band)."""

from __future__ import annotations

import pytest

from training.cover.band import calibrate_band, leave_one_out
from training.real_eval.records import TruckPhotoResult


def _photo(folder: int, p: float | None, name: str = "x") -> TruckPhotoResult:
    return TruckPhotoResult(
        file=f"{name}.jpg",
        folder=folder,
        truck_confidence=None if p is None else 0.5,
        p_uncovered=p,
        verdict=None,
    )


def test_band_keeps_every_covered_and_empty_truck_out_of_the_uncovered_verdict() -> None:
    photos = [_photo(0, 0.2), _photo(1, 0.55), _photo(2, 0.1), _photo(3, 0.8), _photo(3, 0.4)]
    band = calibrate_band(photos, margin=0.02)
    assert (band.covered_p, band.uncovered_p) == pytest.approx((0.38, 0.57))
    verdicts = [band.verdict(p.p_uncovered) for p in photos if p.p_uncovered is not None]
    assert verdicts == ["covered", None, "covered", "uncovered", None]


def test_separable_scores_give_a_band_with_covered_below_uncovered() -> None:
    band = calibrate_band([_photo(0, 0.1), _photo(3, 0.9)], margin=0.02)
    assert band.covered_p < band.uncovered_p
    assert band.uncovered_p == pytest.approx(0.12)
    assert band.verdict(0.9) == "uncovered" and band.verdict(0.05) == "covered"


def test_without_evidence_the_band_abstains() -> None:
    band = calibrate_band([_photo(1, None), _photo(3, None)])
    assert band.verdict(0.99) is None and band.verdict(0.01) is None
    only_covered = calibrate_band([_photo(2, 0.3)])
    assert only_covered.verdict(0.9) == "uncovered"  # above every covered truck seen
    assert only_covered.verdict(0.01) is None  # no open load seen: covered only at p <= 0.001


def test_bad_margin_is_refused() -> None:
    with pytest.raises(ValueError, match="margin"):
        calibrate_band([_photo(0, 0.1)], margin=0.5)


def test_leave_one_out_judges_each_photo_by_the_others_band() -> None:
    # the empty truck's high score is unlike the others': left out, it is accused
    photos = [
        _photo(0, 0.93, "empty"),
        _photo(1, 0.7, "partly"),
        _photo(2, 0.1, "covered"),
        _photo(3, 0.8, "open"),
        _photo(3, 0.75, "open2"),
        _photo(3, None, "unseen"),
    ]
    results = {r.file: r for r in leave_one_out(photos, margin=0.02)}
    assert results["empty.jpg"].band.uncovered_p == pytest.approx(0.72)
    assert results["empty.jpg"].verdict == "uncovered"
    assert results["empty.jpg"].outcome.wrongly_accused
    assert results["open.jpg"].verdict is None  # the others put the bar at 0.95
    assert results["covered.jpg"].verdict == "covered" and results["covered.jpg"].outcome.right
    assert results["unseen.jpg"].verdict is None and not results["unseen.jpg"].outcome.decided
