"""The object names that zones and rules speak of.

Detectors name their own classes; a label map in the detector's config turns them into these
names (for the project's own model they are the same). A zone file that names anything else
is refused.
"""

from __future__ import annotations

from typing import Final

KNOWN_OBJECTS: Final[tuple[str, ...]] = (
    "person",
    "car",
    "truck",
    "stall",
    "goods",
    "bare_soil",
    "dust_net",
)
"""Every object name a zone may list in ``objects``."""
