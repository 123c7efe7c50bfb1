"""Zone rules: pure engines that turn tracked detections into violation events.

Each rule watches one zone and takes time with every frame (:class:`RuleFrame`);
:class:`RuleEngine` runs all of a camera's rules. Rules emit :class:`RuleEvent` (start /
update / end under a stable id), with rule-specific ``details`` and ``attachments``.

==================  ======================  ==================================================
zone kind           rule                    violation
==================  ======================  ==================================================
no_vending          :class:`StallDwellRule`        street stall (占道设摊 / 游商)
shop_frontage       :class:`CrossDoorRule`         cross-door operation (跨门经营)
road                :class:`MuckTruckRule`         uncovered muck truck (渣土车未密闭)
construction_site   :class:`ConstructionSiteRule`  bare soil, dust, noise (文明施工)
==================  ======================  ==================================================
"""

from edge.rules.base import Rule, RuleFactory, RuleFrame, RuleResources
from edge.rules.construction import ConstructionSiteRule
from edge.rules.crossdoor import CrossDoorRule
from edge.rules.engine import DEFAULT_RULES, RuleEngine
from edge.rules.events import (
    Attachment,
    ImageAttachment,
    JsonAttachment,
    RuleEvent,
    attachment_items,
)
from edge.rules.settings import (
    ConstructionSettings,
    CrossDoorSettings,
    MuckTruckSettings,
    RulesSettings,
    SensorLimit,
    StallDwellSettings,
)
from edge.rules.stall import StallDwellRule
from edge.rules.trucks import MuckTruckRule

__all__ = [
    "DEFAULT_RULES",
    "Attachment",
    "ConstructionSettings",
    "ConstructionSiteRule",
    "CrossDoorRule",
    "CrossDoorSettings",
    "ImageAttachment",
    "JsonAttachment",
    "MuckTruckRule",
    "MuckTruckSettings",
    "Rule",
    "RuleEngine",
    "RuleEvent",
    "RuleFactory",
    "RuleFrame",
    "RuleResources",
    "RulesSettings",
    "SensorLimit",
    "StallDwellRule",
    "StallDwellSettings",
    "attachment_items",
]
