"""Routing: rules pick the team (`rules`), the assigner picks the handler (`assign`)."""

from hub.routing.assign import Assigner, Choice, on_duty
from hub.routing.rules import RoutingConfig, Rule, get_routing, load_routing, segments_of

__all__ = ["Assigner", "Choice", "RoutingConfig", "Rule", "get_routing", "load_routing", "on_duty",
           "segments_of"]
