"""The detector's class vocabulary, in class-id order.

The project's own detectors name exactly the objects zones speak of
(:data:`zones.objects.KNOWN_OBJECTS`), so the vocabulary is that tuple, not a copy of it. Its
order is a model contract: a class id is an index into it, and every model in the registry
was trained with it; ``tests/training/scenes/test_classes.py`` holds the registry's models to
it, so reordering (or extending) the objects without a new model fails there first.
Import :data:`CLASSES` rather than repeating the names.
"""

from __future__ import annotations

from typing import Final

from zones.objects import KNOWN_OBJECTS

CLASSES: Final[tuple[str, ...]] = KNOWN_OBJECTS
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
