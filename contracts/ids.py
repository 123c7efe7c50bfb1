"""The one identifier type of civicwatch: edge, camera, zone, site and sensor ids.

An identifier travels in MQTT topic segments, file names and URL paths, so it is kept to
letters, digits and ``_.-``, starts with a letter or digit and is at most 64 characters.
Pydantic models use :data:`Identifier`; FastAPI ``Path``/``Query`` parameters use
:data:`ID_PATTERN`; plain code uses :func:`is_identifier`.

Example:
    >>> is_identifier("cam-01")
    True
    >>> is_identifier("../etc")
    False
"""

from __future__ import annotations

import re
from typing import Annotated, Final

from pydantic import StringConstraints

ID_PATTERN: Final[str] = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
"""The identifier pattern, for ``Field(pattern=...)``, ``Path(pattern=...)`` and the like."""

ID_REGEX: Final[re.Pattern[str]] = re.compile(ID_PATTERN)
""":data:`ID_PATTERN`, compiled."""

Identifier = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
"""An id usable in MQTT topics and file names: letters, digits, ``_.-``, at most 64."""


def is_identifier(value: str) -> bool:
    """Tell whether a string is a valid identifier.

    Args:
        value: The candidate id.

    Returns:
        True when ``value`` matches :data:`ID_PATTERN` in full.
    """
    return ID_REGEX.fullmatch(value) is not None


__all__ = ["ID_PATTERN", "ID_REGEX", "Identifier", "is_identifier"]
