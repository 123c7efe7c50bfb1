"""Plugin discovery, the ``DetectorConfig`` union and :func:`create_detector`.

Every module in :mod:`edge.detectors.plugins` that exports ``PLUGIN`` joins the
registry when this module is imported; a module that fails to import is logged and
left out, so its ``type`` is refused with a clear message while the others work.
"""

from __future__ import annotations

import functools
import importlib
import logging
import operator
import pkgutil
from collections.abc import Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias

from pydantic import Field, TypeAdapter

from edge.detectors import plugins as _plugins_package
from edge.detectors.base import Detector, DetectorError
from edge.detectors.plugin import DetectorPlugin
from edge.detectors.settings import DetectorConfigBase

logger = logging.getLogger(__name__)


def discover_plugins(package: ModuleType = _plugins_package) -> dict[str, DetectorPlugin[Any]]:
    """Import every module of ``package`` and collect the ``PLUGIN`` each exports.

    A module that fails to import, exports no ``PLUGIN``, or repeats a ``type`` is
    logged and skipped.
    """
    found: dict[str, DetectorPlugin[Any]] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module_name = f"{package.__name__}.{info.name}"
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # a plugin's own dependencies may be missing
            logger.warning(
                "detector plugin %s not available: %s: %s", module_name, type(exc).__name__, exc
            )
            continue
        plugin = getattr(module, "PLUGIN", None)
        if not isinstance(plugin, DetectorPlugin):
            logger.warning("detector plugin module %s exports no PLUGIN; skipped", module_name)
            continue
        declared = plugin.config.model_fields["type"].default
        if declared != plugin.type:
            logger.warning(
                "detector plugin %s: type %r differs from its config's %r; skipped",
                module_name,
                plugin.type,
                declared,
            )
            continue
        if plugin.type in found:
            logger.warning(
                "detector plugin %s: type %r already registered; skipped", module_name, plugin.type
            )
            continue
        found[plugin.type] = plugin
    return found


_PLUGINS = discover_plugins()


def available_detector_types() -> tuple[str, ...]:
    """The ``type`` values whose plugins imported, e.g. ``('fastestdet', 'nanodet', ...)``."""
    return tuple(sorted(_PLUGINS))


def _config_union(plugins: Mapping[str, DetectorPlugin[Any]]) -> Any:
    configs = [p.config for p in plugins.values()]
    if not configs:
        logger.error("no detector plugin could be imported")
        return DetectorConfigBase
    if len(configs) == 1:
        return configs[0]
    return Annotated[functools.reduce(operator.or_, configs), Field(discriminator="type")]


# DetectorConfig: any plugin's config, told apart by ``type`` (a pydantic discriminated
# union built from the plugins that imported). Use it as a field type in a larger config:
# ``detector: DetectorConfig``. Type checkers see the common base class.
if TYPE_CHECKING:
    DetectorConfig: TypeAlias = DetectorConfigBase
else:
    DetectorConfig = _config_union(_PLUGINS)


@functools.cache
def _adapter() -> TypeAdapter[DetectorConfig]:
    return TypeAdapter(DetectorConfig)


def parse_detector_config(data: Mapping[str, Any]) -> DetectorConfig:
    """Validate a mapping (e.g. from YAML) into the config of the plugin its ``type`` names.

    Raises:
        pydantic.ValidationError: Unknown ``type``, unknown keys, values out of bounds.

    Example:
        >>> parse_detector_config({"type": "yolox", "path": "m.onnx"}).confidence
        0.25
    """
    return _adapter().validate_python(dict(data))


def create_detector(config: DetectorConfig) -> Detector:
    """Load the model, check it, warm it up, and return a ready detector.

    Raises:
        DetectorError: No plugin for ``config.type``, or the model cannot be used.
    """
    plugin = _PLUGINS.get(config.type)
    if plugin is None:
        raise DetectorError(
            f"no detector plugin of type {config.type!r} is available "
            f"(available: {list(available_detector_types())})"
        )
    if not isinstance(config, plugin.config):
        raise DetectorError(
            f"detector type {config.type!r} needs a {plugin.config.__name__}, "
            f"got {type(config).__name__}"
        )
    return plugin.factory(config)
