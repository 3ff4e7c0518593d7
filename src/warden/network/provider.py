"""Registers the ``Microsoft.Network`` types (and the ``Microsoft.Compute/virtualMachines`` model) with the
kernel's registry, so every operation on them goes through the one ARM pipeline."""

from __future__ import annotations

from warden.kernel.providers import SUBSCRIPTION, Action, ProviderRegistry, ResourceType
from warden.network import (
    compute,
    gateways,
    interfaces,
    nic_actions,
    public_ips,
    route_tables,
    security_groups,
    virtual_networks,
    watchers,
)
from warden.network.common import API_VERSIONS, NAMESPACE, Composite
from warden.network.handlers import ChildHandler, NetworkHandler
from warden.network.limits import UsagesHandler
from warden.network.security_groups import DefaultRulesHandler

COMPUTE_API_VERSIONS = ("2024-11-01", "2024-07-01", "2024-03-01", "2023-09-01", "2023-07-01")


def _type(spec: Composite) -> tuple[str, tuple[str, ...]]:
    namespace, *types = spec.type_name.split("/")
    return namespace, tuple(types)


def _register(
    registry: ProviderRegistry, spec: Composite, label: str, handler_class: type[NetworkHandler] = NetworkHandler
) -> tuple[ResourceType, NetworkHandler]:
    handler = handler_class(spec)
    namespace, types = _type(spec)
    versions = COMPUTE_API_VERSIONS if namespace == "Microsoft.Compute" else API_VERSIONS
    resource_type = registry.register(
        ResourceType(namespace, types, handler, display_name=label, api_versions=versions)
    )
    for prop, child_type in spec.children.items():
        child_types = tuple(child_type.split("/")[1:])
        registry.register(
            ResourceType(
                NAMESPACE,
                child_types,
                ChildHandler(handler, prop),
                display_name=f"{label} {child_types[-1]}",
                api_versions=API_VERSIONS,
            )
        )
    return resource_type, handler


def register(registry: ProviderRegistry) -> None:
    _register(registry, virtual_networks.SPEC, "virtual network")
    _register(registry, security_groups.SPEC, "network security group")
    registry.register(
        ResourceType(
            NAMESPACE,
            ("networkSecurityGroups", "defaultSecurityRules"),
            DefaultRulesHandler(),
            display_name="default security rule",
            api_versions=API_VERSIONS,
            writable=False,
        )
    )
    _register(registry, security_groups.ASG_SPEC, "application security group")
    _register(registry, route_tables.SPEC, "route table")
    nic, _ = _register(registry, interfaces.SPEC, "network interface")
    registry.register(
        ResourceType(
            NAMESPACE,
            ("networkInterfaces", "ipConfigurations"),
            interfaces.IpConfigurationsHandler(),  # type: ignore[arg-type]
            display_name="network interface IP configuration",
            api_versions=API_VERSIONS,
            writable=False,
        )
    )
    nic.add_action(
        Action(
            "effectiveRouteTable",
            nic_actions.nic_effective_routes,
            changes_state=False,
            description="Get the route table applied to a network interface",
        )
    )
    nic.add_action(
        Action(
            "effectiveNetworkSecurityGroups",
            nic_actions.nic_effective_security_groups,
            changes_state=False,
            description="Get the network security groups applied to a network interface",
        )
    )
    _register(registry, public_ips.SPEC, "public IP address")
    _register(registry, gateways.GATEWAY_SPEC, "virtual network gateway")
    _register(registry, gateways.LOCAL_SPEC, "local network gateway")
    _register(registry, gateways.CONNECTION_SPEC, "connection")
    watcher, _ = _register(registry, watchers.SPEC, "network watcher", watchers.WatcherHandler)
    for name, run, verb, text in (
        ("ipFlowVerify", watchers.ip_flow_verify, "action", "Verify IP flow from a VM to a remote address"),
        ("nextHop", watchers.next_hop, "action", "Get the next hop from a VM"),
        ("securityGroupView", watchers.security_group_view, "action", "View the security groups applied to a VM"),
        ("topology", watchers.topology, "read", "Get the network topology of a resource group"),
        ("troubleshoot", watchers.troubleshoot, "action", "Diagnose a VPN gateway or connection"),
        ("queryTroubleshootResult", watchers.troubleshoot, "action", "Query the last troubleshooting result"),
        ("connectivityCheck", watchers.connectivity_check, "action", "Check connectivity from a VM"),
        (
            "networkConfigurationDiagnostic",
            watchers.configuration_diagnostic,
            "action",
            "Diagnose the NSGs that apply to traffic profiles of a VM",
        ),
    ):
        watcher.add_action(Action(name, run, changes_state=False, description=text, verb=verb))
    _register(registry, compute.SPEC, "virtual machine")
    registry.register(
        ResourceType(
            NAMESPACE,
            ("locations", "usages"),
            UsagesHandler(),  # type: ignore[arg-type]
            placements=frozenset({SUBSCRIPTION}),
            display_name="usage",
            api_versions=API_VERSIONS,
            writable=False,
        )
    )
