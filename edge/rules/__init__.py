"""Zone rules: pure engines that turn tracked detections into violation events.

Each rule watches one zone and takes time with every frame; :class:`RuleEngine` runs all of
a camera's rules. Rules emit :class:`RuleEvent` (start / update / end under a stable id).
"""

from edge.rules.base import Rule, RuleFactory
from edge.rules.engine import DEFAULT_RULES, RuleEngine
from edge.rules.events import RuleEvent
from edge.rules.settings import RulesSettings, StallDwellSettings
from edge.rules.stall import StallDwellRule

__all__ = [
    "DEFAULT_RULES",
    "Rule",
    "RuleEngine",
    "RuleEvent",
    "RuleFactory",
    "RulesSettings",
    "StallDwellRule",
    "StallDwellSettings",
]
