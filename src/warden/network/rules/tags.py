"""Service tags the evaluator resolves itself.

* ``VirtualNetwork`` is computed per subnet by the caller (see ``topology.Topology.virtual_network``).
* ``Internet``: "The IP address space that's outside the virtual network and reachable by the public
  internet" (https://learn.microsoft.com/azure/virtual-network/service-tags-overview). Warden takes
  the public address space (everything but the special-purpose ranges of RFC 6890 listed in
  ``NON_PUBLIC``) minus the subnet's ``VirtualNetwork`` set.
* ``AzureLoadBalancer``: the platform's health-probe address 168.63.129.16.
"""

from __future__ import annotations

from .addresses import ALL_ADDRESSES, IntervalSet, prefixes

AZURE_HOST_IP = "168.63.129.16"

NON_PUBLIC = (
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::/8",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
    "2001:db8::/32",
)
PUBLIC = ALL_ADDRESSES - prefixes(NON_PUBLIC)
AZURE_LOAD_BALANCER = prefixes([AZURE_HOST_IP + "/32"])

# canonical name by lower-cased spelling; the upper-case forms are the classic ("default tag") names
TAG_ALIASES = {
    "virtualnetwork": "VirtualNetwork",
    "virtual_network": "VirtualNetwork",
    "internet": "Internet",
    "azureloadbalancer": "AzureLoadBalancer",
    "azure_loadbalancer": "AzureLoadBalancer",
}


def canonical_tag(text: str) -> str | None:
    """The service tag a prefix string names, or ``None`` if it is an address."""
    return TAG_ALIASES.get(text.strip().lower())


def internet(virtual_network: IntervalSet) -> IntervalSet:
    return PUBLIC - virtual_network
