"""The detector's class vocabulary, in class-id order.

This tuple is the single source of truth for the class ids of the synthetic dataset, the
committed model and the registry; import it rather than repeating the names.
"""

from __future__ import annotations

from typing import Final

CLASSES: Final[tuple[str, ...]] = (
    "person",
    "car",
    "truck",
    "stall",
    "goods",
    "bare_soil",
    "dust_net",
)
"""Class names; a class id is the index into this tuple."""


def class_id(name: str) -> int:
    """Return the class id of ``name``.

    Args:
        name: One of :data:`CLASSES`.

    Returns:
        The index of ``name`` in :data:`CLASSES`.

    Raises:
        ValueError: If ``name`` is not a known class.

    Example:
        >>> class_id("stall")
        3
    """
    try:
        return CLASSES.index(name)
    except ValueError:
        raise ValueError(f"unknown class {name!r}; known classes: {', '.join(CLASSES)}") from None
