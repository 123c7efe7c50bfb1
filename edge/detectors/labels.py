"""From the model's classes to the objects that zones and rules speak of.

A COCO model knows ``umbrella`` and ``diningtable``; a rule knows ``stall``. A
:class:`LabelMapConfig` says which model class counts as which object; classes it does
not mention are dropped. Without a mapping the model's class names must already be
object names (a model trained on the civicwatch classes).

Class names are matched ignoring case, spaces, ``_`` and ``-``, so ``dining table``
(ultralytics) and ``diningtable`` (Darknet) are the same class.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from edge.types import Detections, FloatArray, IntArray
from zones.objects import KNOWN_OBJECTS

logger = logging.getLogger(__name__)

OBJECT_NAMES: tuple[str, ...] = KNOWN_OBJECTS
"""The object vocabulary (owned by :mod:`zones.objects`), in class-id order of mapped
:class:`Detections`."""


def _check_object(name: str) -> str:
    if name not in OBJECT_NAMES:
        raise ValueError(f"unknown object {name!r}; objects are {list(OBJECT_NAMES)}")
    return name


ObjectName = Annotated[str, AfterValidator(_check_object)]
"""An object that zones and rules speak of (one of :data:`OBJECT_NAMES`)."""


class LabelMapError(ValueError):
    """A label map does not fit the model's classes."""


def normalize_class_name(name: str) -> str:
    """The key class names are compared by: lower case without spaces, ``_`` or ``-``.

    Example:
        >>> normalize_class_name("Dining Table"), normalize_class_name("bare_soil")
        ('diningtable', 'baresoil')
    """
    return "".join(ch for ch in name.lower() if ch not in " _-")


_OBJECT_KEYS = {normalize_class_name(n): i for i, n in enumerate(OBJECT_NAMES)}


_Mapping = Annotated[
    dict[Annotated[str, Field(min_length=1, max_length=64)], ObjectName],
    Field(min_length=1, max_length=1000),
]


class LabelMapConfig(BaseModel):
    """Which model classes count as which objects.

    Example:
        >>> LabelMapConfig(mapping={"umbrella": "stall", "person": "person"}).mapping
        {'umbrella': 'stall', 'person': 'person'}
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    mapping: _Mapping | None = Field(
        default=None,
        description="Model class name -> object name; classes not listed are dropped. "
        "Unset: the model's class names are the object names (classes that are not "
        "object names are dropped, and at least one must be).",
    )
    min_confidence: dict[ObjectName, Annotated[float, Field(ge=0.0, le=1.0)]] = Field(
        default_factory=dict,
        description="Per object, drop mapped detections scoring below this (on top of "
        "the detector's own threshold), e.g. a higher bar for person than for stall.",
    )


COCO_STREET_LABEL_MAP = LabelMapConfig(
    mapping={
        "person": "person",
        "car": "car",
        "truck": "truck",
        "bus": "truck",
        "train": "truck",
        "umbrella": "stall",
        "diningtable": "stall",
        "chair": "stall",
    }
)
"""For COCO-80 models (either spelling): street objects from the classes that stand for them."""


@dataclass(frozen=True, slots=True)
class LabelLookup:
    """A label map resolved against one model's class names.

    Attributes:
        model_names: The model's class names.
        object_of_class: ``(len(model_names),)`` object id per model class, ``-1`` dropped.
        min_confidence: ``(len(OBJECT_NAMES),)`` per-object score floor.
    """

    model_names: tuple[str, ...]
    object_of_class: IntArray
    min_confidence: FloatArray

    @property
    def dropped(self) -> tuple[str, ...]:
        """Model classes that no object stands for."""
        return tuple(
            n for n, o in zip(self.model_names, self.object_of_class, strict=True) if o < 0
        )

    def apply(self, detections: Detections) -> Detections:
        """Map ``detections`` (whose names must be ``model_names``) to object names.

        Raises:
            LabelMapError: The detections come from a model with other class names.
        """
        if detections.names != self.model_names:
            raise LabelMapError(
                "detections carry class names other than those the label map was resolved "
                f"for ({len(detections.names)} vs {len(self.model_names)} names)"
            )
        object_id = self.object_of_class[detections.class_id]
        keep = object_id >= 0
        keep[keep] &= detections.confidence[keep] >= self.min_confidence[object_id[keep]]
        return Detections(
            xyxy=detections.xyxy[keep],
            confidence=detections.confidence[keep],
            class_id=object_id[keep].astype(np.int64),
            names=OBJECT_NAMES,
            tracker_id=detections.tracker_id[keep],
        )


def resolve_label_map(label_map: LabelMapConfig, model_names: Sequence[str]) -> LabelLookup:
    """Check ``label_map`` against a model's class names and build the lookup.

    Do this once at start-up; :meth:`LabelLookup.apply` is then cheap per frame.

    Raises:
        LabelMapError: The mapping names a class the model does not have, or (without a
            mapping) no model class is an object name.
    """
    names = tuple(model_names)
    keys = {normalize_class_name(n): i for i, n in enumerate(names)}
    object_of_class = np.full(len(names), -1, dtype=np.int64)
    if label_map.mapping is None:
        for i, n in enumerate(names):
            object_of_class[i] = _OBJECT_KEYS.get(normalize_class_name(n), -1)
        if not (object_of_class >= 0).any():
            raise LabelMapError(
                f"none of the model's classes {list(names)[:12]} is an object name "
                f"{list(OBJECT_NAMES)}; configure a label map (e.g. the COCO street preset)"
            )
    else:
        unknown = [k for k in label_map.mapping if normalize_class_name(k) not in keys]
        if unknown:
            raise LabelMapError(
                f"label map names classes the model does not have: {unknown} "
                f"(model classes: {list(names)[:100]})"
            )
        for key, obj in label_map.mapping.items():
            object_of_class[keys[normalize_class_name(key)]] = OBJECT_NAMES.index(obj)
    floors = np.zeros(len(OBJECT_NAMES), dtype=np.float32)
    for obj, floor in label_map.min_confidence.items():
        floors[OBJECT_NAMES.index(obj)] = floor
    lookup = LabelLookup(names, object_of_class, floors)
    if lookup.dropped:
        logger.info("label map drops %d of %d model classes", len(lookup.dropped), len(names))
    return lookup


def apply_label_map(detections: Detections, label_map: LabelMapConfig) -> Detections:
    """Return new detections whose ``names`` are :data:`OBJECT_NAMES`; unmapped classes go.

    Resolves the map on every call; a worker should call :func:`resolve_label_map`
    once and reuse :meth:`LabelLookup.apply`.

    Raises:
        LabelMapError: The map does not fit ``detections.names``.

    Example:
        >>> from edge.detectors.coco import COCO80_NAMES
        >>> d = Detections.empty(COCO80_NAMES)
        >>> apply_label_map(d, COCO_STREET_LABEL_MAP).names[:4]
        ('person', 'car', 'truck', 'stall')
    """
    return resolve_label_map(label_map, detections.names).apply(detections)
