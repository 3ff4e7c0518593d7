"""azure-mgmt-network and azure-mgmt-compute, unchanged, build a topology on a real server and ask Network
Watcher about it. Expected answers follow the documented rules (cited per assertion), not the engine's output.

Topology (built once per module):
  hub 10.0.0.0/16: web 10.0.1.0/24 (NSG web-nsg, route table rt), app 10.0.2.0/24 (no NSG, no table)
  spoke 10.1.0.0/16: default 10.1.0.0/24; hub <-> spoke peered both ways (Connected)
  vm1 -> vm1-nic (web, dynamic => 10.0.1.4, ASG web-asg, NSG nic-nsg, public IP)
  fw-nic (app, static 10.0.2.4, IP forwarding)
  rt: 8.8.4.0/24 and 192.168.0.0/16 -> VirtualAppliance 10.0.2.4, 10.0.3.0/24 -> None
"""

from __future__ import annotations

import ipaddress
import json
import uuid

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.network import models as m

from support.server import ARM_SCOPE

READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
LOCATION = "westeurope"


def _network(server, principal=None) -> NetworkManagementClient:  # type: ignore[no-untyped-def]
    return NetworkManagementClient(
        server.credential(principal),
        server.subscription,
        base_url=server.endpoint,
        connection_verify=server.ca,
        credential_scopes=[ARM_SCOPE],
        polling_interval=0.1,
    )


def _rule(name, priority, direction, access, protocol, source, port, **extra) -> m.SecurityRule:  # type: ignore[no-untyped-def]
    return m.SecurityRule(
        name=name,
        properties=m.SecurityRulePropertiesFormat(
            priority=priority,
            direction=direction,
            access=access,
            protocol=protocol,
            source_address_prefix=source,
            source_port_range="*",
            destination_port_ranges=port if isinstance(port, list) else None,
            destination_port_range=None if isinstance(port, list) else port,
            **({"destination_address_prefix": "*"} | extra),
        ),
    )


@pytest.fixture(scope="module")
def net(warden_server):  # type: ignore[no-untyped-def]
    """The topology above, in a fresh resource group; yields a namespace of clients and ids."""
    client = _network(warden_server)
    compute = ComputeManagementClient(
        warden_server.credential(),
        warden_server.subscription,
        base_url=warden_server.endpoint,
        connection_verify=warden_server.ca,
        credential_scopes=[ARM_SCOPE],
        polling_interval=0.1,
    )
    group = f"rg-net-{uuid.uuid4().hex[:6]}"
    with warden_server.client() as http:
        created = http.put(
            f"{warden_server.sub_scope()}/resourceGroups/{group}",
            params={"api-version": "2021-04-01"},
            json={"location": LOCATION},
        )
        assert created.status_code == 201, created.text

    asg = client.application_security_groups.begin_create_or_update(
        group, "web-asg", m.ApplicationSecurityGroup(location=LOCATION)
    ).result()
    web_nsg = client.network_security_groups.begin_create_or_update(
        group,
        "web-nsg",
        m.NetworkSecurityGroup(
            location=LOCATION,
            properties=m.NetworkSecurityGroupPropertiesFormat(
                security_rules=[
                    _rule("AllowSSH", 100, "Inbound", "Allow", "Tcp", "10.1.0.0/16", "22"),
                    _rule(
                        "AllowHttpsToAsg",
                        300,
                        "Inbound",
                        "Allow",
                        "Tcp",
                        "Internet",
                        ["443", "8443"],
                        destination_address_prefix=None,
                        destination_application_security_groups=[m.ApplicationSecurityGroup(id=asg.id)],
                    ),
                ]
            ),
        ),
    ).result()
    nic_nsg = client.network_security_groups.begin_create_or_update(
        group, "nic-nsg", m.NetworkSecurityGroup(location=LOCATION)
    ).result()
    # Rules as child resources too; the protocol's case does not matter on input.
    client.security_rules.begin_create_or_update(
        group, "nic-nsg", "DenyTelnet", _rule("DenyTelnet", 100, "Inbound", "Deny", "tcp", "*", "23")
    ).result()
    client.security_rules.begin_create_or_update(
        group, "nic-nsg", "AllowHttps", _rule("AllowHttps", 110, "Inbound", "Allow", "TCP", "Internet", "443")
    ).result()
    table = client.route_tables.begin_create_or_update(
        group,
        "rt",
        {
            "location": LOCATION,
            "properties": {
                "routes": [
                    {
                        "name": "to-fw",
                        "properties": {
                            "addressPrefix": "8.8.4.0/24",
                            "nextHopType": "VirtualAppliance",
                            "nextHopIpAddress": "10.0.2.4",
                        },
                    },
                    {"name": "blackhole", "properties": {"addressPrefix": "10.0.3.0/24", "nextHopType": "None"}},
                    {
                        "name": "onprem",
                        "properties": {
                            "addressPrefix": "192.168.0.0/16",
                            "nextHopType": "VirtualAppliance",
                            "nextHopIpAddress": "10.0.2.4",
                        },
                    },
                ]
            },
        },
    ).result()
    hub = client.virtual_networks.begin_create_or_update(
        group,
        "hub",
        m.VirtualNetwork(
            location=LOCATION,
            properties=m.VirtualNetworkPropertiesFormat(
                address_space=m.AddressSpace(address_prefixes=["10.0.0.0/16"]),
                subnets=[
                    m.Subnet(
                        name="web",
                        properties=m.SubnetPropertiesFormat(
                            address_prefix="10.0.1.0/24",
                            network_security_group=m.NetworkSecurityGroup(id=web_nsg.id),
                            route_table=m.RouteTable(id=table.id),
                        ),
                    )
                ],
            ),
        ),
    ).result()
    # A subnet as a child resource.
    app = client.subnets.begin_create_or_update(
        group, "hub", "app", m.Subnet(properties=m.SubnetPropertiesFormat(address_prefix="10.0.2.0/24"))
    ).result()
    spoke = client.virtual_networks.begin_create_or_update(
        group,
        "spoke",
        {
            "location": LOCATION,
            "properties": {
                "addressSpace": {"addressPrefixes": ["10.1.0.0/16"]},
                "subnets": [{"name": "default", "properties": {"addressPrefix": "10.1.0.0/24"}}],
            },
        },
    ).result()
    for local, remote in (("hub", spoke), ("spoke", hub)):
        client.virtual_network_peerings.begin_create_or_update(
            group,
            local,
            f"to-{remote.name}",
            {"properties": {"remoteVirtualNetwork": {"id": remote.id}, "allowVirtualNetworkAccess": True}},
        ).result()
    pip = client.public_ip_addresses.begin_create_or_update(
        group, "vm1-ip", {"location": LOCATION, "sku": {"name": "Standard"}, "properties": {}}
    ).result()
    web_id = f"{hub.id}/subnets/web"
    vm_nic = client.network_interfaces.begin_create_or_update(
        group,
        "vm1-nic",
        m.NetworkInterface(
            location=LOCATION,
            properties=m.NetworkInterfacePropertiesFormat(
                network_security_group=m.NetworkSecurityGroup(id=nic_nsg.id),
                ip_configurations=[
                    m.NetworkInterfaceIPConfiguration(
                        name="ipconfig1",
                        properties=m.NetworkInterfaceIPConfigurationPropertiesFormat(
                            subnet=m.Subnet(id=web_id),
                            public_ip_address=m.PublicIPAddress(id=pip.id),
                            application_security_groups=[m.ApplicationSecurityGroup(id=asg.id)],
                        ),
                    )
                ],
            ),
        ),
    ).result()
    fw_nic = client.network_interfaces.begin_create_or_update(
        group,
        "fw-nic",
        {
            "location": LOCATION,
            "properties": {
                "enableIPForwarding": True,
                "ipConfigurations": [
                    {
                        "name": "ipconfig1",
                        "properties": {
                            "subnet": {"id": app.id},
                            "privateIPAllocationMethod": "Static",
                            "privateIPAddress": "10.0.2.4",
                        },
                    }
                ],
            },
        },
    ).result()
    vm = compute.virtual_machines.begin_create_or_update(
        group,
        "vm1",
        {
            "location": LOCATION,
            "properties": {
                "hardwareProfile": {"vmSize": "Standard_B1s"},
                "osProfile": {"computerName": "vm1", "adminUsername": "azureuser", "adminPassword": "S3cret!pass"},
                "networkProfile": {"networkInterfaces": [{"id": vm_nic.id}]},
            },
        },
    ).result()
    watcher = client.network_watchers.create_or_update(group, f"NetworkWatcher_{LOCATION}", {"location": LOCATION})
    yield {
        "client": client,
        "compute": compute,
        "group": group,
        "hub": hub,
        "spoke": spoke,
        "web_nsg": web_nsg,
        "nic_nsg": nic_nsg,
        "table": table,
        "vm_nic": vm_nic,
        "fw_nic": fw_nic,
        "pip": pip,
        "vm": vm,
        "asg": asg,
        "watcher": watcher.name,
        "server": warden_server,
    }


def test_resources_come_back_in_azure_shapes(net) -> None:  # type: ignore[no-untyped-def]
    client, group = net["client"], net["group"]
    hub = client.virtual_networks.get(group, "hub")
    assert sorted(s.name for s in hub.properties.subnets) == ["app", "web"]  # inline and child views agree
    web = client.subnets.get(group, "hub", "web")
    assert web.properties.network_security_group.id == net["web_nsg"].id
    assert [c.id.lower() for c in web.properties.ip_configurations] == [
        f"{net['vm_nic'].id}/ipConfigurations/ipconfig1".lower()
    ]
    peering = client.virtual_network_peerings.get(group, "hub", "to-spoke")
    assert peering.properties.peering_state == "Connected"  # both sides declared
    nsg = client.network_security_groups.get(group, "web-nsg")
    assert [r.name for r in nsg.properties.default_security_rules] == [
        "AllowVnetInBound",
        "AllowAzureLoadBalancerInBound",
        "DenyAllInBound",
        "AllowVnetOutBound",
        "AllowInternetOutBound",
        "DenyAllOutBound",
    ]
    assert [s.id for s in nsg.properties.subnets] == [web.id]
    nic_rules = client.security_rules.list(group, "nic-nsg")
    assert {r.name: r.properties.protocol for r in nic_rules} == {"AllowHttps": "Tcp", "DenyTelnet": "Tcp"}
    nic = client.network_interfaces.get(group, "vm1-nic")
    config = nic.properties.ip_configurations[0].properties
    # Azure reserves x.x.x.0-3 and the last address: the first dynamic address is .4.
    assert config.private_ip_address == "10.0.1.4" and config.private_ip_allocation_method == "Dynamic"
    assert nic.properties.virtual_machine.id.lower() == net["vm"].id.lower()
    (listed,) = client.network_interface_ip_configurations.list(group, "vm1-nic")
    alone = client.network_interface_ip_configurations.get(group, "vm1-nic", "ipconfig1")
    assert listed.properties.private_ip_address == alone.properties.private_ip_address == "10.0.1.4"
    pip = client.public_ip_addresses.get(group, "vm1-ip")
    assert ipaddress.ip_address(pip.properties.ip_address) in ipaddress.ip_network("198.51.100.0/24")
    assert pip.properties.ip_configuration.id.lower().startswith(net["vm_nic"].id.lower())
    vm = net["compute"].virtual_machines.get(group, "vm1")
    assert vm.os_profile.admin_password is None  # never stored
    # Child resources are not listed among the group's resources, as in ARM.
    with net["server"].client() as http:
        listed = http.get(
            f"{net['server'].sub_scope()}/resourceGroups/{group}/resources", params={"api-version": "2021-04-01"}
        ).json()["value"]
    types = {item["type"] for item in listed}
    assert {"Microsoft.Network/virtualNetworks", "Microsoft.Network/networkSecurityGroups"} <= types
    assert (
        not {"Microsoft.Network/virtualNetworks/subnets", "Microsoft.Network/networkSecurityGroups/securityRules"}
        & types
    )
    operations = {op.name for op in client.operations.list()}
    assert {
        "Microsoft.Network/networkWatchers/ipFlowVerify/action",
        "Microsoft.Network/networkWatchers/topology/read",
        "Microsoft.Network/networkInterfaces/effectiveRouteTable/action",
        "Microsoft.Network/virtualNetworks/subnets/write",
    } <= operations
    usages = {u.name.value: u for u in client.usages.list(LOCATION)}
    assert usages["VirtualNetworks"].current_value >= 2 and usages["VirtualNetworks"].limit == 1000


def _verify(net, direction, protocol, local_port, remote_ip, remote_port="12345", local_ip="10.0.1.4"):  # type: ignore[no-untyped-def]
    return (
        net["client"]
        .network_watchers.begin_verify_ip_flow(
            net["group"],
            net["watcher"],
            m.VerificationIPFlowParameters(
                target_resource_id=net["vm"].id,
                direction=direction,
                protocol=protocol,
                local_port=local_port,
                remote_port=remote_port,
                local_ip_address=local_ip,
                remote_ip_address=remote_ip,
            ),
        )
        .result()
    )


@pytest.mark.parametrize(
    ("direction", "protocol", "port", "remote", "access", "rule"),
    [
        # Inbound: subnet NSG first (AllowSSH from the spoke), then the NIC NSG, whose default AllowVnetInBound
        # admits the peered spoke ("VirtualNetwork" includes peered VNets): both allow.
        ("Inbound", "TCP", "22", "10.1.0.5", "Allow", "defaultSecurityRules/AllowVnetInBound"),
        # No user rule matches SSH from the Internet: the subnet's DenyAllInBound decides.
        ("Inbound", "TCP", "22", "8.8.8.8", "Deny", "defaultSecurityRules/DenyAllInBound"),
        # Subnet allows 443 to the ASG; the NIC's AllowHttps allows too.
        ("Inbound", "TCP", "443", "8.8.8.8", "Allow", "securityRules/AllowHttps"),
        # Subnet allows 8443 to the ASG, but both NSGs must allow: the NIC has no rule, so DenyAllInBound.
        ("Inbound", "TCP", "8443", "8.8.8.8", "Deny", "defaultSecurityRules/DenyAllInBound"),
        # Telnet from the spoke: subnet allows (AllowVnetInBound), the NIC's DenyTelnet denies.
        ("Inbound", "TCP", "23", "10.1.0.5", "Deny", "securityRules/DenyTelnet"),
        # Outbound: NIC then subnet; both defaults allow Internet.
        ("Outbound", "TCP", "443", "8.8.8.8", "Allow", "defaultSecurityRules/AllowInternetOutBound"),
        # "VirtualNetwork" includes "address prefixes used on user-defined routes" (service-tags-overview): the
        # UDR for 192.168.0.0/16 puts that range in the tag, so AllowVnetInBound admits it at both levels.
        ("Inbound", "TCP", "22", "192.168.5.5", "Allow", "defaultSecurityRules/AllowVnetInBound"),
        # A UDR prefix outside it changes nothing for the rest of the Internet.
        ("Inbound", "TCP", "22", "1.1.1.1", "Deny", "defaultSecurityRules/DenyAllInBound"),
        # UDP to the spoke: no user rule, AllowVnetOutBound.
        ("Outbound", "UDP", "53", "10.1.0.5", "Allow", "defaultSecurityRules/AllowVnetOutBound"),
    ],
)
def test_ip_flow_verify(net, direction, protocol, port, remote, access, rule) -> None:  # type: ignore[no-untyped-def]
    result = _verify(net, direction, protocol, port, remote)
    assert (result.access, result.rule_name) == (access, rule)


def test_next_hop(net) -> None:  # type: ignore[no-untyped-def]
    client, group = net["client"], net["group"]

    def hop(source: str, destination: str, target: str):  # type: ignore[no-untyped-def]
        return client.network_watchers.begin_get_next_hop(
            group,
            net["watcher"],
            m.NextHopParameters(
                target_resource_id=target, source_ip_address=source, destination_ip_address=destination
            ),
        ).result()

    vm, table = net["vm"].id, net["table"].id
    via_fw = hop("10.0.1.4", "8.8.4.4", vm)  # the UDR /24 is more specific than the system 0.0.0.0/0
    assert (via_fw.next_hop_type, via_fw.next_hop_ip_address, via_fw.route_table_id) == (
        "VirtualAppliance",
        "10.0.2.4",
        table,
    )
    internet = hop("10.0.1.4", "8.8.8.8", vm)
    assert (internet.next_hop_type, internet.route_table_id) == ("Internet", "System Route")
    assert internet.next_hop_ip_address is None
    blackhole = hop("10.0.1.4", "10.0.3.7", vm)  # longest prefix: the /24 UDR beats the VNet's /16
    assert (blackhole.next_hop_type, blackhole.route_table_id) == ("None", table)
    peer = hop("10.0.1.4", "10.1.0.9", vm)  # the peering's system route
    assert (peer.next_hop_type, peer.route_table_id) == ("VNetPeering", "System Route")
    local = hop("10.0.1.4", "10.0.2.9", vm)
    assert (local.next_hop_type, local.route_table_id) == ("VnetLocal", "System Route")
    fw = net["fw_nic"].id  # app subnet: no route table
    assert hop("10.0.2.4", "8.8.8.8", fw).next_hop_type == "Internet"
    # 192.168.0.0/16 is a system None route unless in the VNet's address space.
    assert (hop("10.0.2.4", "192.168.1.1", fw).next_hop_type, hop("10.0.2.4", "192.168.1.1", fw).route_table_id) == (
        "None",
        "System Route",
    )


def test_effective_routes_and_security_groups(net) -> None:  # type: ignore[no-untyped-def]
    client, group = net["client"], net["group"]
    routes = client.network_interfaces.begin_get_effective_route_table(group, "vm1-nic").result().value
    default = {(r.source, r.address_prefix[0], r.next_hop_type): r.state for r in routes}
    # Same prefix: the user route wins and the system None route for 192.168.0.0/16 is listed as Invalid.
    assert default[("Default", "192.168.0.0/16", "None")] == "Invalid"
    assert default[("User", "192.168.0.0/16", "VirtualAppliance")] == "Active"
    assert default[("Default", "0.0.0.0/0", "Internet")] == "Active"
    assert default[("Default", "10.0.0.0/16", "VnetLocal")] == "Active"
    assert default[("Default", "10.1.0.0/16", "VNetPeering")] == "Active"
    groups = client.network_interfaces.begin_list_effective_network_security_groups(group, "vm1-nic").result().value
    assert [g.network_security_group.id for g in groups] == [net["web_nsg"].id, net["nic_nsg"].id]
    subnet_level = groups[0]
    names = [r.name for r in subnet_level.effective_security_rules]
    assert names[:2] == ["UserRule_AllowSSH", "UserRule_AllowHttpsToAsg"] and "DefaultRule_DenyAllInBound" in names
    # VirtualNetwork: the VNet, the peered VNet, the UDR prefixes and the host IP 168.63.129.16 (merged CIDRs).
    tag = [ipaddress.ip_network(c) for c in subnet_level.tag_map["VirtualNetwork"]]
    for wanted in ("10.0.0.0/16", "10.1.0.0/16", "192.168.0.0/16", "8.8.4.0/24", "168.63.129.16/32"):
        assert any(ipaddress.ip_network(wanted).subnet_of(net_) for net_ in tag), wanted
    assert not any(ipaddress.ip_address("1.1.1.1") in net_ for net_ in tag)


def test_security_group_view_and_topology(net) -> None:  # type: ignore[no-untyped-def]
    client, group = net["client"], net["group"]
    view = client.network_watchers.begin_get_vm_security_rules(
        group, net["watcher"], m.SecurityGroupViewParameters(target_resource_id=net["vm"].id)
    ).result()
    (nic,) = view.network_interfaces
    assoc = nic.security_rule_associations
    assert sorted(r.name for r in assoc.network_interface_association.security_rules) == ["AllowHttps", "DenyTelnet"]
    assert sorted(r.name for r in assoc.subnet_association.security_rules) == ["AllowHttpsToAsg", "AllowSSH"]
    assert len(assoc.default_security_rules) == 6
    topology = client.network_watchers.get_topology(
        group, net["watcher"], m.TopologyParameters(target_resource_group_name=group)
    )
    by_name = {r.name: r for r in topology.resources}
    assert {"hub", "spoke", "web", "app", "vm1-nic", "vm1", "web-nsg"} <= set(by_name)
    vm_links = {(a.name, a.association_type) for a in by_name["vm1"].associations}
    assert ("vm1-nic", "Contains") in vm_links
    web_links = {(a.name, a.association_type) for a in by_name["web"].associations}
    assert {("web-nsg", "Associated"), ("rt", "Associated")} <= web_links


def _error(call) -> HttpResponseError:  # type: ignore[no-untyped-def]
    with pytest.raises(HttpResponseError) as raised:
        result = call()
        if hasattr(result, "result"):
            result.result()
    return raised.value


@pytest.mark.parametrize(
    ("priority", "port", "code"),
    [
        (50, "22", "SecurityRuleInvalidPriority"),
        (100, "22", "SecurityRuleConflict"),
        (500, "70000", "SecurityRuleInvalidPortRange"),
    ],
)
def test_invalid_rules_are_refused_and_not_written(net, priority, port, code) -> None:  # type: ignore[no-untyped-def]
    client, group = net["client"], net["group"]
    error = _error(
        lambda: client.security_rules.begin_create_or_update(
            group, "nic-nsg", "Bad", _rule("Bad", priority, "Inbound", "Allow", "Tcp", "*", port)
        )
    )
    assert error.status_code == 400 and error.error.code == code
    with pytest.raises(ResourceNotFoundError):
        client.security_rules.get(group, "nic-nsg", "Bad")


def test_invalid_subnets_addresses_and_deletes(net) -> None:  # type: ignore[no-untyped-def]
    client, group = net["client"], net["group"]
    subnet = lambda prefix, **kw: m.Subnet(properties=m.SubnetPropertiesFormat(address_prefix=prefix, **kw))  # noqa: E731
    outside = _error(lambda: client.subnets.begin_create_or_update(group, "hub", "out", subnet("10.9.0.0/24")))
    assert outside.error.code == "NetcfgInvalidSubnet"
    overlap = _error(lambda: client.subnets.begin_create_or_update(group, "hub", "ovl", subnet("10.0.1.128/25")))
    assert overlap.error.code == "NetcfgSubnetRangesOverlap"
    missing = net["web_nsg"].id.rsplit("/", 1)[0] + "/nope"
    dangling = _error(
        lambda: client.subnets.begin_create_or_update(
            group, "hub", "dangling", subnet("10.0.9.0/24", network_security_group=m.NetworkSecurityGroup(id=missing))
        )
    )
    assert dangling.error.code == "InvalidResourceReference"
    assert sorted(s.name for s in client.subnets.list(group, "hub")) == ["app", "web"]  # nothing written

    def nic(name: str, ip: str):  # type: ignore[no-untyped-def]
        config = {
            "subnet": {"id": f"{net['hub'].id}/subnets/app"},
            "privateIPAllocationMethod": "Static",
            "privateIPAddress": ip,
        }
        return client.network_interfaces.begin_create_or_update(
            group,
            name,
            {"location": LOCATION, "properties": {"ipConfigurations": [{"name": "c", "properties": config}]}},
        )

    assert _error(lambda: nic("n1", "10.0.2.2")).error.code == "PrivateIPAddressInReservedRange"
    assert _error(lambda: nic("n1", "10.0.2.255")).error.code == "PrivateIPAddressInReservedRange"
    assert _error(lambda: nic("n1", "10.0.2.4")).error.code == "PrivateIPAddressIsAllocated"
    assert _error(lambda: nic("n1", "10.0.5.4")).error.code == "PrivateIPAddressNotInSubnet"
    peer = _error(
        lambda: client.virtual_network_peerings.begin_create_or_update(
            group, "hub", "self-overlap", {"properties": {"remoteVirtualNetwork": {"id": net["hub"].id}}}
        )
    )
    assert peer.error.code == "CannotPeerVirtualNetworkWithItself"
    in_use = [
        (lambda: client.subnets.begin_delete(group, "hub", "web"), "InUseSubnetCannotBeDeleted"),
        (
            lambda: client.network_security_groups.begin_delete(group, "web-nsg"),
            "InUseNetworkSecurityGroupCannotBeDeleted",
        ),
        (lambda: client.route_tables.begin_delete(group, "rt"), "InUseRouteTableCannotBeDeleted"),
        (lambda: client.network_interfaces.begin_delete(group, "vm1-nic"), "NicInUse"),
        (lambda: client.public_ip_addresses.begin_delete(group, "vm1-ip"), "PublicIPAddressCannotBeDeleted"),
    ]
    for call, code in in_use:
        assert _error(call).error.code == code
    assert client.subnets.get(group, "hub", "web").properties.address_prefix == "10.0.1.0/24"


def test_overlapping_peering_is_refused(net) -> None:  # type: ignore[no-untyped-def]
    client, group = net["client"], net["group"]
    twin = client.virtual_networks.begin_create_or_update(
        group, "twin", {"location": LOCATION, "properties": {"addressSpace": {"addressPrefixes": ["10.0.128.0/17"]}}}
    ).result()
    error = _error(
        lambda: client.virtual_network_peerings.begin_create_or_update(
            group, "twin", "to-hub", {"properties": {"remoteVirtualNetwork": {"id": net["hub"].id}}}
        )
    )
    assert error.error.code == "VnetAddressSpacesOverlap"
    client.virtual_networks.begin_delete(group, twin.name).result()
    # Growing a peered VNet into its peer's space is refused too.
    spoke = client.virtual_networks.get(group, "spoke")
    spoke.properties.address_space.address_prefixes = ["10.1.0.0/16", "10.0.200.0/24"]
    grown = _error(lambda: client.virtual_networks.begin_create_or_update(group, "spoke", spoke))
    assert grown.error.code == "VnetAddressSpacesOverlap"
    assert client.virtual_networks.get(group, "spoke").properties.address_space.address_prefixes == ["10.1.0.0/16"]
    with pytest.raises(ResourceNotFoundError):
        client.virtual_networks.get(group, "twin")


def test_reader_reads_but_cannot_write_or_verify(net) -> None:  # type: ignore[no-untyped-def]
    server, group = net["server"], net["group"]
    scope = f"{server.sub_scope()}/resourceGroups/{group}"
    reader = server.new_principal()
    server.assign(reader, READER, scope)
    client = _network(server, reader)
    assert {v.name for v in client.virtual_networks.list(group)} >= {"hub", "spoke"}
    denied = _error(
        lambda: client.network_security_groups.begin_create_or_update(group, "reader-nsg", {"location": LOCATION})
    )
    assert (denied.status_code, denied.error.code) == (403, "AuthorizationFailed")
    with pytest.raises(ResourceNotFoundError):
        net["client"].network_security_groups.get(group, "reader-nsg")
    # ipFlowVerify is an action (networkWatchers/ipFlowVerify/action): not granted by */read.
    flow = _error(lambda: _verify({**net, "client": client}, "Inbound", "TCP", "22", "8.8.8.8"))
    assert flow.status_code == 403
    # topology is a read in Azure (networkWatchers/topology/read).
    topology = client.network_watchers.get_topology(group, net["watcher"], {"targetResourceGroupName": group})
    assert any(r.name == "hub" for r in topology.resources)

    contributor = server.new_principal()
    server.assign(contributor, NETWORK_CONTRIBUTOR, scope)
    made = (
        _network(server, contributor)
        .network_security_groups.begin_create_or_update(group, "contributor-nsg", {"location": LOCATION})
        .result()
    )
    assert made.properties.provisioning_state == "Succeeded"
    as_contributor = {**net, "client": _network(server, contributor)}
    # The watcher also needs read on what it inspects: Network Contributor cannot read VMs...
    hidden = _error(lambda: _verify(as_contributor, "Inbound", "TCP", "22", "8.8.8.8"))
    assert hidden.status_code == 403 and "Microsoft.Compute/virtualMachines/read" in hidden.error.message
    # ...but may ask about a NIC it can read.
    nic_flow = (
        as_contributor["client"]
        .network_watchers.begin_verify_ip_flow(
            group,
            net["watcher"],
            {
                "targetResourceId": net["vm_nic"].id,
                "direction": "inbound",
                "protocol": "tcp",
                "localPort": "22",
                "remotePort": "4000",
                "localIPAddress": "10.0.1.4",
                "remoteIPAddress": "8.8.8.8",
            },
        )
        .result()
    )
    assert (nic_flow.access, nic_flow.rule_name) == ("Deny", "defaultSecurityRules/DenyAllInBound")


def test_cli_lists_and_asks_the_watcher(net) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from warden.cli.main import app

    server, group = net["server"], net["group"]

    def warden(*args: str) -> str:
        result = CliRunner().invoke(app, [*args, "--data-dir", str(server.data_dir)])
        assert result.exit_code == 0, result.output
        assert server.bootstrap["clientSecret"] not in result.output
        return result.stdout

    vnets = json.loads(warden("network", "vnet", "list", "-g", group, "--output", "json"))
    assert {v["name"] for v in vnets} >= {"hub", "spoke"}
    assert "10.0.1.4" in warden("network", "nic", "show", "vm1-nic", "-g", group)
    flow = ("network", "verify", "--vm", "vm1", "-g", group, "--direction", "Inbound", "--protocol", "tcp")
    denied = json.loads(warden(*flow, "--local", "10.0.1.4:23", "--remote", "10.1.0.5:4000", "--output", "json"))
    blockers = denied.pop("wardenBlockedBy")  # Warden's blocked-path field
    assert denied == {"access": "Deny", "ruleName": "securityRules/DenyTelnet"}
    # the NIC's DenyTelnet alone: AllowVnetInBound (the spoke is peered) decides below it at both levels
    assert [(b["level"], b["name"]) for b in blockers] == [("nic", "securityRules/DenyTelnet")]
    table = warden(*flow, "--local", "10.0.1.4:443", "--remote", "8.8.8.8:50000")
    assert "Allow" in table and "securityRules/AllowHttps" in table
    hop = ("network", "next-hop", "--vm", "vm1", "-g", group, "--source", "10.0.1.4", "--output", "json")
    assert json.loads(warden(*hop, "--destination", "8.8.4.4"))["nextHopType"] == "VirtualAppliance"
    assert json.loads(warden(*hop, "--destination", "10.0.3.9"))["routeTableId"] == net["table"].id
    rules = warden("network", "rules", "--vm", "vm1", "-g", group)
    assert "AllowSSH" in rules and "DenyTelnet" in rules and "DefaultRule_DenyAllInBound" in rules
    assert "vm1-nic" in warden("network", "vm", "show", "vm1", "-g", group)
    topology = json.loads(warden("network", "topology", "-g", group, "--output", "json"))
    assert {"hub", "vm1"} <= {r["name"] for r in topology["resources"]}
    assert "web-nsg" in warden("network", "topology", "-g", group)


def test_connectivity_check_follows_routes_and_rules(net) -> None:  # type: ignore[no-untyped-def]
    client, group = net["client"], net["group"]

    def check(source: str, address: str, port: int):  # type: ignore[no-untyped-def]
        return client.network_watchers.begin_check_connectivity(
            group,
            net["watcher"],
            {"source": {"resourceId": source}, "destination": {"address": address, "port": port}, "protocol": "Tcp"},
        ).result()

    vm, fw = net["vm"].id, net["fw_nic"].id
    direct = check(vm, "10.0.2.4", 22)  # VnetLocal, no NSG at the firewall's subnet or NIC
    assert direct.connection_status == "Reachable"
    assert [h.type for h in direct.hops] == ["Source", "VirtualMachine"]
    assert direct.hops[1].resource_id.lower() == fw.lower() and direct.hops[0].next_hop_ids == [direct.hops[1].id]
    via_fw = check(vm, "8.8.4.4", 443)  # UDR to the appliance, which forwards to the Internet: beyond the model
    assert [h.type for h in via_fw.hops] == ["Source", "VirtualAppliance", "Internet"]
    assert via_fw.connection_status == "Unknown"
    blackhole = check(vm, "10.0.3.7", 80)
    assert blackhole.connection_status == "Unreachable"
    assert blackhole.hops[-1].issues[0].type == "UserDefinedRoute"
    telnet = check(fw, "10.0.1.4", 23)  # the destination NIC's DenyTelnet
    assert telnet.connection_status == "Unreachable"
    issue = telnet.hops[-1].issues[0]
    assert (issue.type, issue.origin, issue.context) == (
        "NetworkSecurityRule",
        "Inbound",
        [{"RuleName": "securityRules/DenyTelnet"}],
    )


def test_network_configuration_diagnostic(net) -> None:  # type: ignore[no-untyped-def]
    client, group = net["client"], net["group"]
    profiles = [
        {
            "direction": "Inbound",
            "protocol": "TCP",
            "source": "10.1.0.0/24",
            "destination": "10.0.1.4",
            "destinationPort": "22",
        },
        {
            "direction": "Inbound",
            "protocol": "TCP",
            "source": "Internet",
            "destination": "10.0.1.4",
            "destinationPort": "23",
        },
    ]
    answer = client.network_watchers.begin_get_network_configuration_diagnostic(
        group, net["watcher"], {"targetResourceId": net["vm"].id, "verbosityLevel": "Full", "profiles": profiles}
    ).result()
    ssh, internet = (r.network_security_group_result for r in answer.results)
    assert ssh.security_rule_access_result == "Allow"
    subnet_level, nic_level = ssh.evaluated_network_security_groups  # inbound: subnet first, then the NIC
    assert subnet_level.applied_to == f"{net['hub'].id}/subnets/web" and nic_level.applied_to == net["vm_nic"].id
    assert (subnet_level.matched_rule.rule_name, subnet_level.matched_rule.action) == (
        "securityRules/AllowSSH",
        "Allow",
    )
    first = subnet_level.rules_evaluation_result[0]
    assert first.name == "securityRules/AllowSSH" and first.source_matched and first.destination_port_matched
    telnet_rule = next(r for r in nic_level.rules_evaluation_result if r.name == "securityRules/DenyTelnet")
    assert telnet_rule.destination_port_matched is False
    assert nic_level.matched_rule.rule_name == "defaultSecurityRules/AllowVnetInBound"
    # From the Internet nothing but DenyAllInBound applies (Internet excludes every VirtualNetwork prefix), and
    # evaluation stops at the subnet.
    assert internet.security_rule_access_result == "Deny"
    (only,) = internet.evaluated_network_security_groups
    assert only.matched_rule.rule_name == "defaultSecurityRules/DenyAllInBound"


def test_read_modify_write_round_trips(net) -> None:  # type: ignore[no-untyped-def]
    """What SDK users do all the time: GET, change one thing, PUT the whole object back (read-only fields and
    all). Nothing else may change."""
    client, group = net["client"], net["group"]
    hub = client.virtual_networks.get(group, "hub")
    hub.tags = {"env": "test"}
    again = client.virtual_networks.begin_create_or_update(group, "hub", hub).result()
    assert again.tags == {"env": "test"} and sorted(s.name for s in again.properties.subnets) == ["app", "web"]
    assert client.virtual_network_peerings.get(group, "hub", "to-spoke").properties.peering_state == "Connected"
    nsg = client.network_security_groups.get(group, "web-nsg")
    before = {r.name: r.etag for r in nsg.properties.security_rules}
    nsg.properties.security_rules.append(_rule("AllowIcmp", 400, "Inbound", "Allow", "Icmp", "VirtualNetwork", "*"))
    grown = client.network_security_groups.begin_create_or_update(group, "web-nsg", nsg).result()
    after = {r.name: r.etag for r in grown.properties.security_rules}
    assert set(after) == {*before, "AllowIcmp"}
    assert all(after[name] == etag for name, etag in before.items())  # untouched rules keep their ETags
    client.security_rules.begin_delete(group, "web-nsg", "AllowIcmp").result()
    nic = client.network_interfaces.get(group, "vm1-nic")
    back = client.network_interfaces.begin_create_or_update(group, "vm1-nic", nic).result()
    assert back.properties.ip_configurations[0].properties.private_ip_address == "10.0.1.4"
    assert back.properties.virtual_machine.id.lower() == net["vm"].id.lower()
    tagged = client.virtual_networks.update_tags(group, "spoke", {"tags": {"owner": "net"}})
    assert tagged.tags == {"owner": "net"} and tagged.properties.subnets[0].name == "default"
    assert _verify(net, "Inbound", "TCP", "22", "10.1.0.5").access == "Allow"  # same answers as before
