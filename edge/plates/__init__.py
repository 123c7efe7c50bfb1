"""Optional plate reading for truck cases: a 4-corner plate detector and a CTC recogniser.

The models are third-party (GPL-3.0 upstream) and never shipped; an operator installs them
and lists them by SHA-256 in ``rules.muck_truck.plate_reader`` (:class:`PlateReaderSettings`).
"""

from edge.plates.reader import PlateReader, PlateReading, PlateVote, vote
from edge.plates.session import PlateModelError
from edge.plates.settings import PlateModelFile, PlateReaderSettings

__all__ = [
    "PlateModelError",
    "PlateModelFile",
    "PlateReader",
    "PlateReaderSettings",
    "PlateReading",
    "PlateVote",
    "vote",
]
