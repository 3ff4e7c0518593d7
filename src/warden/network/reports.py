"""The analyses beyond Azure over gathered documents: NSG analysis, Internet exposure and NSG what-if.

Each function takes the documents ``gathering`` reads (by ARM type) and returns JSON-ready values; the exact
work is the pure engine's (``rules.analysis``, ``rules.exposure``, ``rules.whatif``). Raises ``KeyError``
when the named NSG is not among the documents and ``ValueError`` for a malformed changed NSG.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from warden.kernel.errors import WardenError
from warden.kernel.ids import key
from warden.network import validation as v
from warden.network.common import NETWORK_INTERFACES, VIRTUAL_MACHINES
from warden.network.gathering import gather, public_addresses, virtual_machines_by_nic
from warden.network.rules import Evaluator, NetworkSecurityGroup, Topology
from warden.network.rules.analysis import analyze_nsg
from warden.network.rules.exposure import exposure
from warden.network.rules.nsg import AddressContext
from warden.network.rules.space import internet_names
from warden.network.rules.tags import internet
from warden.network.rules.whatif import what_if

Documents = Mapping[str, Iterable[Mapping[str, Any]]]


def subnets_using(topology: Topology, nsg_id: str) -> list[str]:
    """The subnets where ``nsg_id`` applies: associated to the subnet, or to a NIC in it (sorted, unique)."""
    target = key(nsg_id)
    found = {s.id for s in topology.subnets.values() if key(s.network_security_group_id or "/") == target}
    found |= {
        topology.subnets[key(n.subnet_id)].id
        for n in topology.network_interfaces.values()
        if key(n.network_security_group_id or "/") == target
    }
    return sorted(found, key=str.lower)


def analyze(documents: Documents, nsg_id: str) -> list[dict[str, Any]]:
    """Findings of the NSG per subnet where it applies (the ``VirtualNetwork`` and ``Internet`` sets differ per
    subnet); an NSG applied nowhere is analysed once with an empty ``VirtualNetwork`` set (``subnet``: null)."""
    topology = gather(documents)
    nsg = topology.network_security_groups[key(nsg_id)]
    evaluator = Evaluator(topology)
    contexts: list[tuple[str | None, AddressContext]] = [
        (s, evaluator.context(s)) for s in subnets_using(topology, nsg.id)
    ]
    if not contexts:
        contexts = [(None, AddressContext(application_security_groups=evaluator.application_security_groups()))]
    out = []
    for subnet_id, context in contexts:
        names = internet_names(internet(context.virtual_network))
        findings = [f.to_json(names) for f in analyze_nsg(nsg, context).findings]
        out.append({"networkSecurityGroup": nsg.id, "subnet": subnet_id, "findings": findings})
    return out


def exposure_report(documents: Documents, resource_group: str | None = None) -> list[dict[str, Any]]:
    """Per NIC (of ``resource_group`` when given) with a public IP: the Internet flows both NSG levels allow.

    NICs without a public IP are listed with ``publicIp`` false and no flows: Azure delivers no Internet traffic
    to them (outbound-initiated replies aside, which NSGs allow statefully)."""
    topology = gather(documents)
    evaluator = Evaluator(topology)
    public = public_addresses(documents.get(NETWORK_INTERFACES, ()))
    vms = virtual_machines_by_nic(documents.get(VIRTUAL_MACHINES, ()))
    out = []
    for nic in sorted(topology.network_interfaces.values(), key=lambda n: n.id.lower()):
        if resource_group and _group(nic.id) != resource_group.lower():
            continue
        addresses = public.get(key(nic.id), [])
        found = exposure(evaluator, nic.id, addresses)
        out.append(
            {
                "networkInterface": nic.id,
                "virtualMachine": vms.get(key(nic.id)),
                "publicIp": bool(addresses),
                "addresses": addresses,
                "flows": found.to_json(),
            }
        )
    return out


def what_if_report(documents: Documents, changed: Mapping[str, Any], nsg_id: str) -> list[dict[str, Any]]:
    """The flips ``changed`` (an NSG document as a PUT would send it) would cause, per NIC and direction."""
    topology = gather(documents)
    if key(nsg_id) not in topology.network_security_groups:
        raise KeyError(nsg_id)
    new = changed_nsg(changed, nsg_id)
    vms = virtual_machines_by_nic(documents.get(VIRTUAL_MACHINES, ()))
    flips = what_if(Evaluator(topology), nsg_id, new)
    return [{**f.to_json(), "virtualMachine": vms.get(key(f.network_interface_id))} for f in flips]


def changed_nsg(document: Mapping[str, Any], nsg_id: str) -> NetworkSecurityGroup:
    """The engine's NSG for a changed document, after the checks a PUT makes on its rules (Azure's syntax rules and
    unique priorities per direction, ``network.validation``); raises ``ValueError`` naming Azure's error code."""
    try:
        props = document.get("properties") or {}
        rules = props.get("securityRules") or []
        checked = [(r["name"], v.security_rule(r["name"], dict(r.get("properties") or {}))) for r in rules]
        v.unique_priorities(checked)
        items = [{"name": name, "properties": rule} for name, rule in checked]
        return NetworkSecurityGroup.from_azure({"id": nsg_id, "properties": {"securityRules": items}})
    except WardenError as exc:
        raise ValueError(f"the changed NSG would be refused: {exc.code}: {exc.message}") from exc
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"the changed NSG is not a valid document: {exc!r}") from exc


def _group(resource_id: str) -> str:
    parts = resource_id.lower().split("/")
    return parts[4] if len(parts) > 4 else ""
