"""Network Watcher ``networkConfigurationDiagnostic``: per traffic profile, every NSG on the path with each
rule's match details, the rule that decided and the overall access.

A profile names sets (``*``, an address, a CIDR prefix or a service tag; a port or a range), not one packet.
Warden reads "matched" as "the rule covers part of the profile" for each of protocol, source, source port,
destination and destination port, and the deciding rule as the first that matches on all five (so a broad
profile reports the first rule that applies to some of its traffic; ``ipFlowVerify`` gives exact
per-packet verdicts). Levels are evaluated as for a packet: inbound subnet then NIC, outbound the reverse,
stopping at a Deny.
"""

from __future__ import annotations

from typing import Any

from warden.kernel.errors import BadRequest
from warden.network import validation as v
from warden.network.rules import Evaluator, SecurityRule, Topology
from warden.network.rules.addresses import port_set
from warden.network.rules.nsg import ip_flow_verify_name

PROTOCOLS = {"tcp": "Tcp", "udp": "Udp", "icmp": "Icmp", "*": "*"}


def _profile(profile: Any, index: int) -> dict[str, Any]:
    target = f"profiles[{index}]"
    if not isinstance(profile, dict):
        raise BadRequest(f"{target} must be an object.", code="InvalidRequestFormat", target=target)
    out = {
        "direction": v.enum(profile.get("direction"), v.DIRECTIONS, f"{target}.direction"),
        "protocol": v.enum(profile.get("protocol"), PROTOCOLS, f"{target}.protocol"),
        "source": v.rule_address(profile.get("source"), f"{target}.source"),
        "destination": v.rule_address(profile.get("destination"), f"{target}.destination"),
        "destinationPort": v.port_range(profile.get("destinationPort"), f"{target}.destinationPort"),
    }
    return out


def _rule_result(rule: SecurityRule, profile: dict[str, Any], context: Any) -> dict[str, Any]:
    protocol = profile["protocol"]
    ported = protocol in ("Tcp", "Udp", "*")
    wanted_ports = port_set([profile["destinationPort"]])
    return {
        "name": ip_flow_verify_name(rule),
        "protocolMatched": rule.protocol == "*" or protocol == "*" or rule.protocol == protocol,
        "sourceMatched": bool(context.source(rule) & context.addresses([profile["source"]])),
        "sourcePortMatched": True,  # a profile has no source port: every source port is in it
        "destinationMatched": bool(context.destination(rule) & context.addresses([profile["destination"]])),
        "destinationPortMatched": (not ported) or bool(port_set(rule.destination_port_ranges) & wanted_ports),
    }


def diagnose(topology: Topology, nic_ids: list[str], raw_profiles: Any) -> dict[str, Any]:
    """The ``NetworkConfigurationDiagnosticResponse`` for the NICs (of a VM) and the given profiles."""
    if not isinstance(raw_profiles, list) or not raw_profiles:
        raise BadRequest("At least one profile is required.", code="InvalidRequestFormat", target="profiles")
    evaluator = Evaluator(topology)
    results = []
    for index, raw in enumerate(raw_profiles):
        profile = _profile(raw, index)
        for nic_id in nic_ids:
            nic = topology.network_interfaces[nic_id.lower()]
            subnet = topology.subnets[nic.subnet_id.lower()]
            context = evaluator.context(subnet.id)
            levels = [(subnet.id, subnet.network_security_group_id), (nic.id, nic.network_security_group_id)]
            if profile["direction"] == "Outbound":
                levels.reverse()
            access, evaluated = "Allow", []
            for applied_to, nsg_id in levels:
                if not nsg_id:
                    continue
                rules = topology.network_security_groups[nsg_id.lower()].rules(profile["direction"])
                details = [_rule_result(rule, profile, context) for rule in rules]
                decided = next(
                    (
                        rule
                        for rule, d in zip(rules, details, strict=True)
                        if all(val for k, val in d.items() if k != "name")
                    ),
                    None,
                )
                entry: dict[str, Any] = {
                    "networkSecurityGroupId": nsg_id,
                    "appliedTo": applied_to,
                    "rulesEvaluationResult": details,
                }
                if decided is not None:
                    entry["matchedRule"] = {"ruleName": ip_flow_verify_name(decided), "action": decided.access}
                evaluated.append(entry)
                if decided is not None and decided.access == "Deny":
                    access = "Deny"
                    break
            results.append(
                {
                    "profile": raw,
                    "networkSecurityGroupResult": {
                        "securityRuleAccessResult": access,
                        "evaluatedNetworkSecurityGroups": evaluated,
                    },
                }
            )
    return {"results": results}
