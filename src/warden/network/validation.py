"""Azure's syntax rules for network properties: prefixes, ports, priorities, protocols, enums.

Pure functions over plain values; each raises ``BadRequest`` with Azure's error code where one is
published (and a descriptive one where it is not: see docs/network.md) and returns the normalized value.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from warden.kernel.errors import BadRequest
from warden.network.rules.tags import canonical_tag

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

PROTOCOLS = {"tcp": "Tcp", "udp": "Udp", "icmp": "Icmp", "esp": "Esp", "ah": "Ah", "*": "*"}
DIRECTIONS = {"inbound": "Inbound", "outbound": "Outbound"}
ACCESSES = {"allow": "Allow", "deny": "Deny"}
NEXT_HOP_TYPES = {
    "virtualnetworkgateway": "VirtualNetworkGateway",
    "vnetlocal": "VnetLocal",
    "internet": "Internet",
    "virtualappliance": "VirtualAppliance",
    "none": "None",
}
ALLOCATION_METHODS = {"static": "Static", "dynamic": "Dynamic"}
MIN_PRIORITY, MAX_PRIORITY = 100, 4096


def enum(value: Any, allowed: dict[str, str], target: str, *, default: str | None = None) -> str:
    """``value`` spelled as Azure spells it (input is case-insensitive); raises on anything else."""
    if value is None and default is not None:
        return default
    if isinstance(value, str) and value.lower() in allowed:
        return allowed[value.lower()]
    raise BadRequest(
        f"Value '{value}' is not valid for '{target}'. Allowed values: {', '.join(allowed.values())}.",
        code="InvalidRequestFormat",
        target=target,
    )


def network(text: Any, target: str, *, code: str = "InvalidAddressPrefixFormat") -> Network:
    """A CIDR prefix whose host bits are zero; raises ``code`` otherwise."""
    if not isinstance(text, str) or "/" not in text:
        raise BadRequest(f"Address prefix {text} in {target} is not a valid CIDR prefix.", code=code, target=target)
    try:
        loose = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise BadRequest(
            f"Address prefix {text} in {target} does not have a valid format.", code=code, target=target
        ) from None
    try:
        ipaddress.ip_network(text.strip(), strict=True)
    except ValueError:  # host bits set
        raise BadRequest(
            f"The address prefix {text} in {target} has an invalid CIDR notation. For the given prefix length, "
            f"the address prefix should be {loose}.",
            code="InvalidCIDRNotation",
            target=target,
        ) from None
    return loose


def networks(values: Iterable[Any], target: str, *, code: str = "InvalidAddressPrefixFormat") -> list[Network]:
    if not isinstance(values, list | tuple):
        raise BadRequest(f"'{target}' must be an array of prefixes.", code="InvalidRequestFormat", target=target)
    return [network(v, f"{target}[{i}]", code=code) for i, v in enumerate(values)]


def address(text: Any, target: str, *, code: str = "InvalidIPAddressFormat") -> ipaddress.IPv4Address:
    try:
        value = ipaddress.ip_address(str(text).strip())
    except ValueError:
        raise BadRequest(f"IP address '{text}' in {target} is not valid.", code=code, target=target) from None
    if not isinstance(value, ipaddress.IPv4Address):
        raise BadRequest(f"IP address '{text}' in {target} must be IPv4.", code=code, target=target)
    return value


def overlapping(items: list[tuple[str, Network]]) -> tuple[str, str] | None:
    """The labels of the first two overlapping prefixes, or None."""
    for i, (label_a, a) in enumerate(items):
        for label_b, b in items[i + 1 :]:
            if a.version == b.version and a.overlaps(b):
                return label_a, label_b
    return None


def prefix_list(props: dict[str, Any], singular: str, plural: str, target: str) -> list[str]:
    """Azure's singular/plural pair (``addressPrefix``/``addressPrefixes``): exactly one may be given."""
    one, many = props.get(singular), props.get(plural)
    if one not in (None, "") and many:
        raise BadRequest(
            f"Only one of '{singular}' and '{plural}' may be specified in {target}.",
            code="InvalidRequestFormat",
            target=target,
        )
    if many is not None and not isinstance(many, list):
        raise BadRequest(f"'{plural}' in {target} must be an array.", code="InvalidRequestFormat", target=target)
    return [one] if one not in (None, "") else list(many or [])


# ---- NSG rules ----------------------------------------------------------------------------------------------


def port_range(text: Any, target: str) -> str:
    """``*``, ``N`` or ``N-M`` within 0-65535; raises ``SecurityRuleInvalidPortRange``."""
    value = str(text).strip() if isinstance(text, str | int) else None
    ok = value == "*"
    if value and not ok:
        low, sep, high = value.partition("-")
        try:
            lo, hi = int(low), int(high) if sep else int(low)
            ok = low.isdigit() and (not sep or high.isdigit()) and 0 <= lo <= hi <= 65535
        except ValueError:
            ok = False
    if not ok:
        raise BadRequest(
            f"Security rule has invalid Port range. Value provided: {text}. Value should be an integer OR integer "
            "range with '-' delimiter. Valid range 0-65535.",
            code="SecurityRuleInvalidPortRange",
            target=target,
        )
    return value  # type: ignore[return-value]


def rule_address(text: Any, target: str) -> str:
    """``*``, a service tag, an IP address or a CIDR prefix; raises ``SecurityRuleInvalidAddressPrefix``."""
    if isinstance(text, str):
        value = text.strip()
        if value == "*" or canonical_tag(value):
            return value
        try:
            ipaddress.ip_network(value, strict=False)
            return value
        except ValueError:
            pass
    raise BadRequest(
        f"Security rule has invalid Address prefix. Value provided: {text}.",
        code="SecurityRuleInvalidAddressPrefix",
        target=target,
    )


def _rule_side(props: dict[str, Any], side: str, target: str) -> None:
    prefixes = prefix_list(props, f"{side}AddressPrefix", f"{side}AddressPrefixes", target)
    prefixes = [rule_address(p, f"{target}.{side}AddressPrefix") for p in prefixes]
    asgs = props.get(f"{side}ApplicationSecurityGroups") or []
    if not isinstance(asgs, list):
        raise BadRequest(
            f"{side}ApplicationSecurityGroups of {target} must be an array.", code="InvalidRequestFormat", target=target
        )
    if prefixes and asgs:
        raise BadRequest(
            f"Security rule {target} cannot specify both {side}AddressPrefix(es) and {side}ApplicationSecurityGroups.",
            code="SecurityRuleParameterContainsUnsupportedValue",
            target=target,
        )
    # Azure: a prefix list ("augmented" rule) holds IP prefixes only; a tag or '*' must stand alone.
    if len(prefixes) > 1 and any(p == "*" or canonical_tag(p) for p in prefixes):
        raise BadRequest(
            f"Security rule {target} has a service tag or '*' in a list of {side} address prefixes; a tag must be "
            "the only prefix.",
            code="SecurityRuleParameterContainsUnsupportedValue",
            target=target,
        )
    if len(asgs) > 1:
        raise BadRequest(
            f"Security rule {target} references more than one {side} application security group.",
            code="SecurityRuleParameterContainsUnsupportedValue",
            target=target,
        )
    if not prefixes and not asgs:
        raise BadRequest(
            f"Security rule {target} must specify {side}AddressPrefix, {side}AddressPrefixes or "
            f"{side}ApplicationSecurityGroups.",
            code="SecurityRuleInvalidAddressPrefix",
            target=target,
        )
    if len(prefixes) == 1 and props.get(f"{side}AddressPrefixes"):
        props[f"{side}AddressPrefix"], props[f"{side}AddressPrefixes"] = prefixes[0], []
    ports = prefix_list(props, f"{side}PortRange", f"{side}PortRanges", target)
    if not ports:
        raise BadRequest(
            f"Security rule {target} must specify {side}PortRange or {side}PortRanges.",
            code="SecurityRuleInvalidPortRange",
            target=target,
        )
    ports = [port_range(p, f"{target}.{side}PortRange") for p in ports]
    # Store the normalized text: templates often write ports as numbers, which Azure accepts as strings.
    if props.get(f"{side}PortRange") not in (None, ""):
        props[f"{side}PortRange"] = ports[0]
    else:
        props[f"{side}PortRanges"] = ports
    if len(ports) > 1 and "*" in ports:
        raise BadRequest(
            f"Security rule {target}: '*' cannot be part of a list of {side} port ranges.",
            code="SecurityRuleInvalidPortRange",
            target=target,
        )


def security_rule(name: str, props: dict[str, Any]) -> dict[str, Any]:
    """A ``securityRules`` item's properties, normalized (Azure's enum spellings); raises on any violation."""
    target = f"securityRules/{name}"
    props["protocol"] = enum(props.get("protocol"), PROTOCOLS, f"{target}.protocol")
    props["access"] = enum(props.get("access"), ACCESSES, f"{target}.access")
    props["direction"] = enum(props.get("direction"), DIRECTIONS, f"{target}.direction")
    priority = props.get("priority")
    if isinstance(priority, bool) or not isinstance(priority, int) or not MIN_PRIORITY <= priority <= MAX_PRIORITY:
        raise BadRequest(
            f"Security rule has invalid Priority. Value provided: {priority}. Allowed range {MIN_PRIORITY}-"
            f"{MAX_PRIORITY}.",
            code="SecurityRuleInvalidPriority",
            target=target,
        )
    for side in ("source", "destination"):
        _rule_side(props, side, target)
    description = props.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 140):
        raise BadRequest(
            f"Security rule {name} description must be at most 140 characters.",
            code="SecurityRuleInvalidDescription",
            target=target,
        )
    return props


def unique_priorities(rules: list[tuple[str, dict[str, Any]]]) -> None:
    """Priorities are unique per direction; raises ``SecurityRuleConflict`` as Azure does."""
    seen: dict[tuple[str, int], str] = {}
    for name, props in rules:
        slot = (props["direction"], props["priority"])
        if slot in seen:
            raise BadRequest(
                f"Security rule {seen[slot]} conflicts with rule {name}. Rules cannot have the same Priority and "
                "Direction. To learn more, see aka.ms/nsgrules.",
                code="SecurityRuleConflict",
                target=f"securityRules/{name}",
            )
        seen[slot] = name


# ---- routes -------------------------------------------------------------------------------------------------


def route(name: str, props: dict[str, Any]) -> dict[str, Any]:
    """A ``routes`` item's properties, normalized; raises on a bad prefix, hop type or appliance IP."""
    target = f"routes/{name}"
    # Azure also accepts service tags here; the route engine models prefixes only (docs/network.md).
    network(props.get("addressPrefix"), f"{target}.addressPrefix", code="InvalidRouteAddressPrefix")
    props["nextHopType"] = enum(props.get("nextHopType"), NEXT_HOP_TYPES, f"{target}.nextHopType")
    hop_ip = props.get("nextHopIpAddress")
    if props["nextHopType"] == "VirtualAppliance":
        if not hop_ip:
            raise BadRequest(
                f"Route {name} has next hop type VirtualAppliance but no nextHopIpAddress.",
                code="NextHopIpAddressMissing",
                target=target,
            )
        address(hop_ip, f"{target}.nextHopIpAddress", code="InvalidNextHopIpAddress")
    elif hop_ip:
        raise BadRequest(
            f"Route {name}: nextHopIpAddress is only allowed when nextHopType is VirtualAppliance.",
            code="NextHopIpAddressNotAllowed",
            target=target,
        )
    return props
