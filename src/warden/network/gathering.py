"""Gathering for the analyses that span a subscription (exposure, what-if, NSG analysis): ARM documents, as a
client reads them with GET/list, turned into the engine's ``Topology`` by the same translation the server uses
(``model_builder.topology_from_rows``), plus what the engine does not model (which NIC addresses have a
public IP, which NSGs a document names).

Working from documents keeps these analyses on the caller's own view: they see what the caller may read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from warden.kernel.ids import key
from warden.network.common import (
    CONNECTIONS,
    LOCAL_NETWORK_GATEWAYS,
    NETWORK_INTERFACES,
    PEERINGS,
    ROUTE_TABLES,
    ROUTES,
    SECURITY_GROUPS,
    SECURITY_RULES,
    SUBNETS,
    VIRTUAL_MACHINES,
    VIRTUAL_NETWORK_GATEWAYS,
    VIRTUAL_NETWORKS,
)
from warden.network.model_builder import topology_from_rows
from warden.network.rules import Topology

# ARM type -> (inline property, child type) for the children a parent document shows inline
INLINE = {
    VIRTUAL_NETWORKS: (("subnets", SUBNETS), ("virtualNetworkPeerings", PEERINGS)),
    SECURITY_GROUPS: (("securityRules", SECURITY_RULES),),
    ROUTE_TABLES: (("routes", ROUTES),),
}
# the types the analyses list (VMs only for their names)
LISTED = (
    VIRTUAL_NETWORKS,
    SECURITY_GROUPS,
    ROUTE_TABLES,
    NETWORK_INTERFACES,
    VIRTUAL_NETWORK_GATEWAYS,
    LOCAL_NETWORK_GATEWAYS,
    CONNECTIONS,
    VIRTUAL_MACHINES,
)


@dataclass(frozen=True)
class DocumentRow:
    """A document in the shape ``model_builder`` reads rows in."""

    id: str
    name: str
    location: str | None
    parent_key: str | None
    body: Mapping[str, Any]


def rows_from_documents(documents: Mapping[str, Iterable[Mapping[str, Any]]]) -> dict[str, list[DocumentRow]]:
    """Rows by lower-cased type name: each document, and each child its parent shows inline."""
    out: dict[str, list[DocumentRow]] = {}
    for type_name, items in documents.items():
        for doc in items:
            out.setdefault(type_name.lower(), []).append(
                DocumentRow(doc["id"], doc["name"], doc.get("location"), None, doc)
            )
            for prop, child_type in INLINE.get(type_name, ()):
                for child in doc.get("properties", {}).get(prop) or []:
                    row = DocumentRow(child["id"], child["name"], None, doc["id"], child)
                    out.setdefault(child_type.lower(), []).append(row)
    return out


def gather(documents: Mapping[str, Iterable[Mapping[str, Any]]]) -> Topology:
    """The ``Topology`` of the documents (by ARM type, e.g. ``Microsoft.Network/virtualNetworks``)."""
    rows = rows_from_documents(documents)
    return topology_from_rows(lambda type_name: rows.get(type_name.lower(), []))


def public_addresses(nics: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Per NIC id (lower-cased), the private addresses of its IP configurations that have a public IP."""
    out: dict[str, list[str]] = {}
    for nic in nics:
        for config in nic.get("properties", {}).get("ipConfigurations") or []:
            props = config.get("properties", {})
            if (props.get("publicIPAddress") or {}).get("id") and props.get("privateIPAddress"):
                out.setdefault(key(nic["id"]), []).append(props["privateIPAddress"])
    return out


def virtual_machines_by_nic(vms: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """NIC id (lower-cased) -> the name of the VM it is attached to."""
    out = {}
    for vm in vms:
        for ref in vm.get("properties", {}).get("networkProfile", {}).get("networkInterfaces") or []:
            out[key(ref["id"])] = vm["name"]
    return out
