"""Colour palettes: parsing the compact ``b,g,r`` notation, and every palette in range."""

from __future__ import annotations

import pytest

from training.scenes import palettes
from training.scenes.palettes import colors


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ("   ", []),
        ("0,0,0", [(0, 0, 0)]),
        ("40,40,200 240,240,240", [(40, 40, 200), (240, 240, 240)]),
        ("1,2,3\n  4,5,6", [(1, 2, 3), (4, 5, 6)]),
    ],
)
def test_colors_parse(text: str, expected: list[tuple[int, int, int]]) -> None:
    assert colors(text) == expected


@pytest.mark.parametrize("text", ["1,2", "1,2,3,4", "1,2,256", "-1,2,3", "a,b,c", "1;2;3"])
def test_malformed_colours_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        colors(text)


def test_every_palette_is_a_non_empty_list_of_bgr_triples() -> None:
    names = [n for n in dir(palettes) if n.isupper()]
    assert {"SKIN", "CANOPY", "GOODS", "FACADE", "HOARDING"} <= set(names)
    for name in names:
        palette = getattr(palettes, name)
        assert palette, name
        assert all(len(c) == 3 and all(0 <= v <= 255 for v in c) for c in palette), name


def test_palettes_keep_their_order() -> None:
    # a seed picks a colour by index: reordering a palette changes every rendered image
    assert palettes.CANOPY[:2] == [(40, 40, 200), (200, 110, 30)]
    assert palettes.CLOTHES[-1] == (60, 100, 180) and len(palettes.CLOTHES) == 12
