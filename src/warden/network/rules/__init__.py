"""The pure network rule engine: NSG verdicts, effective routes and next hop over a topology model.

Standard library only; knows nothing of HTTP, storage or settings.
"""

from .addresses import IntervalSet, address_value, prefixes, to_cidrs
from .evaluate import Evaluator, LevelVerdict, Verdict
from .model import (
    DEFAULT_SECURITY_RULES,
    Flow,
    NetworkInterface,
    NetworkSecurityGroup,
    Peering,
    Route,
    RouteTable,
    SecurityRule,
    Subnet,
    Topology,
    VirtualNetwork,
    VirtualNetworkGateway,
)
from .nsg import AddressContext, CompiledRules, UnknownServiceTag, compile_nsg, effective_rule_name, ip_flow_verify_name
from .routes import SYSTEM_ROUTE, EffectiveRoute, NextHop, build_effective_routes

__all__ = [
    "DEFAULT_SECURITY_RULES",
    "SYSTEM_ROUTE",
    "AddressContext",
    "CompiledRules",
    "EffectiveRoute",
    "Evaluator",
    "Flow",
    "IntervalSet",
    "LevelVerdict",
    "NetworkInterface",
    "NetworkSecurityGroup",
    "NextHop",
    "Peering",
    "Route",
    "RouteTable",
    "SecurityRule",
    "Subnet",
    "Topology",
    "UnknownServiceTag",
    "Verdict",
    "VirtualNetwork",
    "VirtualNetworkGateway",
    "address_value",
    "build_effective_routes",
    "compile_nsg",
    "effective_rule_name",
    "ip_flow_verify_name",
    "prefixes",
    "to_cidrs",
]
