"""What a plugin module exports: its ``type``, its config class and its factory."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic

from edge.detectors.base import ConfigT, Detector


@dataclass(frozen=True, slots=True)
class DetectorPlugin(Generic[ConfigT]):
    """A plugin module's entry point, exported as ``PLUGIN``.

    Attributes:
        type: The config's ``type`` literal that selects this plugin.
        config: The plugin's pydantic config class.
        factory: Builds a loaded, warmed-up detector from that config.
    """

    type: str
    config: builtins.type[ConfigT]
    factory: Callable[[ConfigT], Detector]
