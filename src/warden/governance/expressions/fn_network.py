"""IP functions: policy's ``ipRangeContains`` and the template CIDR functions."""

from __future__ import annotations

import ipaddress
from typing import Any

from .errors import ExpressionEvaluationError
from .registry import POLICY_ONLY, registry
from .values import require_int, require_string

__all__ = ["ip_range"]


def ip_range(text: Any, function: str = "ipRangeContains") -> tuple[int, int, int]:
    """Parse a single address, a CIDR block or ``start-end`` into ``(version, first, last)``.

    Raises :class:`ExpressionEvaluationError` for empty or malformed input.
    """
    value = require_string(function, text).strip()
    if not value:
        raise ExpressionEvaluationError(f"The template function '{function}' got an empty IP range")
    try:
        if "-" in value:
            start_text, end_text = (part.strip() for part in value.split("-", 1))
            start, end = ipaddress.ip_address(start_text), ipaddress.ip_address(end_text)
            if start.version != end.version or int(start) > int(end):
                raise ValueError("bad range")
            return start.version, int(start), int(end)
        if "/" in value:
            network = ipaddress.ip_network(value, strict=False)
            return network.version, int(network.network_address), int(network.broadcast_address)
        address = ipaddress.ip_address(value)
        return address.version, int(address), int(address)
    except ValueError as exc:
        raise ExpressionEvaluationError(
            f"The template function '{function}' got an invalid IP range {value!r}"
        ) from exc


@registry.function("ipRangeContains", 2, 2, scopes=POLICY_ONLY)
def _ip_range_contains(ctx, args):
    outer = ip_range(args[0])
    inner = ip_range(args[1])
    if outer[0] != inner[0]:
        raise ExpressionEvaluationError("The template function 'ipRangeContains' can't mix IPv4 and IPv6 ranges")
    return outer[1] <= inner[1] and inner[2] <= outer[2]


def _network(function: str, value: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(require_string(function, value), strict=False)
    except ValueError as exc:
        raise ExpressionEvaluationError(f"The template function '{function}' got an invalid CIDR {value!r}") from exc


@registry.function("parseCidr", 1, 1)
def _parse_cidr(ctx, args):
    network = _network("parseCidr", args[0])
    result: dict[str, Any] = {"network": str(network.network_address)}
    if network.version == 4:
        result["netmask"] = str(network.netmask)
        result["broadcast"] = str(network.broadcast_address)
    hosts_first = network.network_address + (1 if network.prefixlen < network.max_prefixlen - 1 else 0)
    hosts_last = network.broadcast_address - (1 if network.version == 4 and network.prefixlen < 31 else 0)
    result.update({"firstUsable": str(hosts_first), "lastUsable": str(hosts_last), "cidr": network.prefixlen})
    return result


@registry.function("cidrSubnet", 3, 3)
def _cidr_subnet(ctx, args):
    network = _network("cidrSubnet", args[0])
    prefix = require_int("cidrSubnet", args[1], 2)
    index = require_int("cidrSubnet", args[2], 3)
    if not network.prefixlen <= prefix <= network.max_prefixlen:
        raise ExpressionEvaluationError("The template function 'cidrSubnet' got a prefix outside the network")
    size = 1 << (network.max_prefixlen - prefix)
    count = 1 << (prefix - network.prefixlen)
    if not 0 <= index < count:
        raise ExpressionEvaluationError("The template function 'cidrSubnet' got an index outside the network")
    start = ipaddress.ip_address(int(network.network_address) + index * size)
    return f"{start}/{prefix}"


@registry.function("cidrHost", 2, 2)
def _cidr_host(ctx, args):
    network = _network("cidrHost", args[0])
    index = require_int("cidrHost", args[1], 2)
    offset = 1 if network.version == 4 else 0  # IPv4 skips the network address
    if not 0 <= index < network.num_addresses - offset - (1 if network.version == 4 else 0):
        raise ExpressionEvaluationError("The template function 'cidrHost' got a host index outside the network")
    return str(network.network_address + offset + index)
