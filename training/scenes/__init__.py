"""Synthetic street scenes for training and testing (numpy, OpenCV and PyAV only; no torch).

* :data:`CLASSES`: the detector's classes in class-id order.
* :func:`render_still`: one labelled still image from a seed.
* :func:`write_dataset`: a YOLO-format dataset of stills.
* :func:`render_scenario`: a scripted H.264 clip with its ground-truth timeline.

Command line: ``python -m training.scenes {dataset,video} --help``.
"""

from training.scenes.classes import CLASSES, class_id
from training.scenes.dataset import DatasetSummary, write_dataset
from training.scenes.scenarios import SCENARIOS, ScenarioTruth, TruthObject, render_scenario
from training.scenes.world import RenderedImage, render_still

__all__ = [
    "CLASSES",
    "SCENARIOS",
    "DatasetSummary",
    "RenderedImage",
    "ScenarioTruth",
    "TruthObject",
    "class_id",
    "render_scenario",
    "render_still",
    "write_dataset",
]
