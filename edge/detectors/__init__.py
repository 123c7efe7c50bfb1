"""Object detector plugins on onnxruntime behind one interface, chosen by ``type``.

Example:
    >>> from edge.detectors import create_detector, parse_detector_config
    >>> config = parse_detector_config({"type": "yolo", "path": "models/m.onnx"})
    >>> detector = create_detector(config)  # doctest: +SKIP
    >>> detector.detect(image)  # doctest: +SKIP
"""

from edge.detectors.base import (
    Detector,
    DetectorError,
    OnnxDetector,
    Prepared,
    TimedDetections,
    resolve_providers,
)
from edge.detectors.coco import COCO80_NAMES
from edge.detectors.labels import (
    COCO_STREET_LABEL_MAP,
    OBJECT_NAMES,
    LabelLookup,
    LabelMapConfig,
    LabelMapError,
    ObjectName,
    apply_label_map,
    resolve_label_map,
)
from edge.detectors.registry import (
    DetectorConfig,
    available_detector_types,
    create_detector,
    parse_detector_config,
)
from edge.detectors.settings import DetectorConfigBase

__all__ = [
    "COCO80_NAMES",
    "COCO_STREET_LABEL_MAP",
    "OBJECT_NAMES",
    "Detector",
    "DetectorConfig",
    "DetectorConfigBase",
    "DetectorError",
    "LabelLookup",
    "LabelMapConfig",
    "LabelMapError",
    "ObjectName",
    "OnnxDetector",
    "Prepared",
    "TimedDetections",
    "apply_label_map",
    "available_detector_types",
    "create_detector",
    "parse_detector_config",
    "resolve_label_map",
    "resolve_providers",
]
