"""The colours objects and scenery are drawn in, as BGR palettes.

Each palette is written as ``"b,g,r b,g,r ..."`` and read once at import; a builder picks
from it with :func:`~training.scenes.geometry.pick`. The order of a palette is part of the
generator's output (a seed picks by index), so append rather than reorder.

Example:
    >>> colors("40,40,200 240,240,240")
    [(40, 40, 200), (240, 240, 240)]
"""

from __future__ import annotations

from training.scenes.geometry import Color


def colors(text: str) -> list[Color]:
    """The colours of ``text``: ``b,g,r`` triples separated by white space.

    Raises:
        ValueError: A triple is not three integers in 0..255.
    """
    out: list[Color] = []
    for item in text.split():
        channels = tuple(int(c) for c in item.split(","))
        if len(channels) != 3 or not all(0 <= c <= 255 for c in channels):
            raise ValueError(f"not a b,g,r colour: {item!r}")
        out.append((channels[0], channels[1], channels[2]))
    return out


# -- people, vehicles, goods and ground cover ------------------------------------------------

SKIN = colors("150,180,220 120,150,195 90,120,170 170,195,230")
HAIR = colors("20,20,25 30,35,45 60,70,90 140,140,140")
CLOTHES = colors(
    "40,40,40 200,200,200 60,50,160 150,90,40 40,120,40 30,160,200"
    " 120,60,120 90,90,90 170,140,100 20,30,120 230,230,235 60,100,180"
)
TROUSERS = colors("30,30,35 90,60,40 60,60,60 120,110,100 40,50,80")
CAR_PAINT = colors(
    "235,235,235 20,20,20 160,160,165 110,110,115 40,40,170"
    " 140,80,30 60,110,60 200,205,210 30,60,110 90,40,20"
)
TRUCK_PAINT = colors("60,140,60 30,180,230 220,220,220 150,90,30 40,50,190 40,120,200")
TARP = colors("60,120,40 140,90,30 40,40,40 110,110,100 70,150,70 160,120,40")
SOIL = colors("60,95,135 55,85,120 70,105,150 45,75,110 80,115,150")
NET_GREEN = colors("50,130,40 40,110,35 70,150,60 55,120,70 35,95,30")
CANOPY = colors(
    "40,40,200 200,110,30 40,160,40 30,200,230 240,240,240 50,90,220 170,60,150 30,140,240"
)
GOODS = colors(
    "40,60,200 40,180,230 60,160,60 200,120,40 230,230,230 80,80,200"
    " 30,130,230 150,60,150 100,170,200 70,110,160 200,200,90"
)
CARTON = colors("80,130,170 90,140,180 70,115,150 110,160,200")

# -- scenery ------------------------------------------------------------------------------

FACADE = colors("190,200,210 170,180,190 140,150,165 200,205,205 120,130,150 160,170,200")
SIGN = colors("40,40,200 200,120,30 40,160,40 30,200,230 220,220,220 30,30,30 150,50,150 0,120,240")
HOARDING = colors("170,110,30 70,140,50 215,215,215 150,150,150")
