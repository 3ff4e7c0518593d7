"""VPN gateways, local network gateways and connections through azure-mgmt-network, and what they do to routing:
"gateway routes" (the local network's prefixes, next hop VirtualNetworkGateway) unless the subnet's route table
disables gateway route propagation (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview).
Runs on the session's server (no server of its own)."""

from __future__ import annotations

import time
import uuid

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.network import NetworkManagementClient

from support.server import ARM_SCOPE

LOCATION = "northeurope"


def _error(call) -> HttpResponseError:  # type: ignore[no-untyped-def]
    with pytest.raises(HttpResponseError) as raised:
        result = call()
        if hasattr(result, "result"):
            result.result()
    return raised.value


@pytest.fixture(scope="module")
def vpn(warden_server):  # type: ignore[no-untyped-def]
    client = NetworkManagementClient(
        warden_server.credential(),
        warden_server.subscription,
        base_url=warden_server.endpoint,
        connection_verify=warden_server.ca,
        credential_scopes=[ARM_SCOPE],
        polling_interval=0.1,
    )
    group = f"rg-vpn-{uuid.uuid4().hex[:6]}"
    with warden_server.client() as http:
        response = http.put(
            f"{warden_server.sub_scope()}/resourceGroups/{group}",
            params={"api-version": "2021-04-01"},
            json={"location": LOCATION},
        )
        assert response.status_code == 201, response.text
    vnet = client.virtual_networks.begin_create_or_update(
        group,
        "vnet",
        {
            "location": LOCATION,
            "properties": {
                "addressSpace": {"addressPrefixes": ["10.20.0.0/16"]},
                "subnets": [
                    {"name": "GatewaySubnet", "properties": {"addressPrefix": "10.20.255.0/27"}},
                    {"name": "work", "properties": {"addressPrefix": "10.20.1.0/24"}},
                ],
            },
        },
    ).result()
    pip = client.public_ip_addresses.begin_create_or_update(
        group, "gw-ip", {"location": LOCATION, "sku": {"name": "Standard"}, "properties": {}}
    ).result()
    gateway = client.virtual_network_gateways.begin_create_or_update(
        group,
        "gw",
        {
            "location": LOCATION,
            "properties": {
                "gatewayType": "Vpn",
                "vpnType": "RouteBased",
                "enableBgp": True,
                "sku": {"name": "VpnGw1", "tier": "VpnGw1"},
                "bgpSettings": {"asn": 65010},
                "ipConfigurations": [
                    {
                        "name": "default",
                        "properties": {
                            "subnet": {"id": f"{vnet.id}/subnets/GatewaySubnet"},
                            "publicIPAddress": {"id": pip.id},
                        },
                    }
                ],
            },
        },
    ).result()
    local = client.local_network_gateways.begin_create_or_update(
        group,
        "onprem",
        {
            "location": LOCATION,
            "properties": {
                "gatewayIpAddress": "192.0.2.10",
                "localNetworkAddressSpace": {"addressPrefixes": ["10.50.0.0/16"]},
            },
        },
    ).result()
    connection = client.virtual_network_gateway_connections.begin_create_or_update(
        group,
        "to-onprem",
        {
            "location": LOCATION,
            "properties": {
                "connectionType": "IPsec",
                "virtualNetworkGateway1": {"id": gateway.id},
                "localNetworkGateway2": {"id": local.id},
                "sharedKey": "correct horse battery staple",
                "ipsecPolicies": [
                    {
                        "saLifeTimeSeconds": 27000,
                        "saDataSizeKilobytes": 102400000,
                        "ipsecEncryption": "AES256",
                        "ipsecIntegrity": "SHA256",
                        "ikeEncryption": "AES256",
                        "ikeIntegrity": "SHA384",
                        "dhGroup": "DHGroup24",
                        "pfsGroup": "PFS24",
                    }
                ],
            },
        },
    ).result()
    nic = client.network_interfaces.begin_create_or_update(
        group,
        "work-nic",
        {
            "location": LOCATION,
            "properties": {
                "ipConfigurations": [{"name": "c", "properties": {"subnet": {"id": f"{vnet.id}/subnets/work"}}}]
            },
        },
    ).result()
    watcher = client.network_watchers.create_or_update(group, "watcher", {"location": LOCATION})
    return {
        "client": client,
        "group": group,
        "vnet": vnet,
        "gateway": gateway,
        "local": local,
        "connection": connection,
        "nic": nic,
        "watcher": watcher,
        "server": warden_server,
    }


def test_gateway_takes_an_address_in_gateway_subnet_and_hides_the_shared_key(vpn, arm) -> None:  # type: ignore[no-untyped-def]
    client, group = vpn["client"], vpn["group"]
    gateway = client.virtual_network_gateways.get(group, "gw")
    address = gateway.properties.ip_configurations[0].properties.private_ip_address
    assert address == "10.20.255.4"  # first address after the four Azure reserves
    assert gateway.properties.bgp_settings.asn == 65010
    assert gateway.properties.bgp_settings.bgp_peering_address == address
    gateway_subnet = client.subnets.get(group, "vnet", "GatewaySubnet")
    assert [c.id for c in gateway_subnet.properties.ip_configurations] == [f"{gateway.id}/ipConfigurations/default"]
    connection = client.virtual_network_gateway_connections.get(group, "to-onprem")
    assert connection.properties.ipsec_policies[0].dh_group == "DHGroup24"
    raw = arm.get(connection.id, params={"api-version": "2024-05-01"}).json()
    assert "sharedKey" not in raw["properties"]
    assert "correct horse" not in arm.get(f"/subscriptions/{vpn['server'].subscription}/resources").text


def test_gateway_routes_and_their_propagation(vpn) -> None:  # type: ignore[no-untyped-def]
    client, group = vpn["client"], vpn["group"]
    gateway_ip = "10.20.255.4"

    def hop(destination: str):  # type: ignore[no-untyped-def]
        return client.network_watchers.begin_get_next_hop(
            group,
            "watcher",
            {"targetResourceId": vpn["nic"].id, "sourceIPAddress": "10.20.1.4", "destinationIPAddress": destination},
        ).result()

    routes = client.network_interfaces.begin_get_effective_route_table(group, "work-nic").result().value
    learned = [r for r in routes if r.source == "VirtualNetworkGateway"]
    assert [(r.address_prefix, r.next_hop_ip_address, r.state) for r in learned] == [
        (["10.50.0.0/16"], [gateway_ip], "Active")
    ]
    onprem = hop("10.50.3.3")
    assert (onprem.next_hop_type, onprem.next_hop_ip_address, onprem.route_table_id) == (
        "VirtualNetworkGateway",
        gateway_ip,
        "System Route",
    )
    # A route table that disables gateway route propagation drops the learned route: 10.50.x.x then falls to the
    # system None route for 10.0.0.0/8.
    table = client.route_tables.begin_create_or_update(
        group, "no-bgp", {"location": LOCATION, "properties": {"disableBgpRoutePropagation": True}}
    ).result()
    vnet = client.virtual_networks.get(group, "vnet")
    work = next(s for s in vnet.properties.subnets if s.name == "work")
    client.subnets.begin_create_or_update(
        group,
        "vnet",
        "work",
        {"properties": {"addressPrefix": work.properties.address_prefix, "routeTable": {"id": table.id}}},
    ).result()
    try:
        assert hop("10.50.3.3").next_hop_type == "None"
    finally:
        client.subnets.begin_create_or_update(
            group, "vnet", "work", {"properties": {"addressPrefix": "10.20.1.0/24"}}
        ).result()
    assert hop("10.50.3.3").next_hop_type == "VirtualNetworkGateway"


def test_vpn_validation(vpn) -> None:  # type: ignore[no-untyped-def]
    client, group = vpn["client"], vpn["group"]
    bad_policy = {
        "saLifeTimeSeconds": 27000,
        "saDataSizeKilobytes": 102400000,
        "ipsecEncryption": "GCMAES256",
        "ipsecIntegrity": "SHA256",  # GCM needs the matching GCM integrity
        "ikeEncryption": "AES256",
        "ikeIntegrity": "SHA384",
        "dhGroup": "DHGroup24",
        "pfsGroup": "PFS24",
    }
    body = {
        "location": LOCATION,
        "properties": {
            "connectionType": "IPsec",
            "virtualNetworkGateway1": {"id": vpn["gateway"].id},
            "localNetworkGateway2": {"id": vpn["local"].id},
            "sharedKey": "k",
            "ipsecPolicies": [bad_policy],
        },
    }
    error = _error(lambda: client.virtual_network_gateway_connections.begin_create_or_update(group, "bad", body))
    assert error.error.code == "InvalidIpsecPolicy"
    with pytest.raises(ResourceNotFoundError):
        client.virtual_network_gateway_connections.get(group, "bad")
    wrong_subnet = {
        "location": LOCATION,
        "properties": {
            "ipConfigurations": [{"name": "x", "properties": {"subnet": {"id": f"{vpn['vnet'].id}/subnets/work"}}}]
        },
    }
    error = _error(lambda: client.virtual_network_gateways.begin_create_or_update(group, "gw2", wrong_subnet))
    assert error.error.code == "InvalidGatewaySubnet"
    error = _error(lambda: client.local_network_gateways.begin_delete(group, "onprem"))
    assert error.error.code == "InUseLocalNetworkGatewayCannotBeDeleted"
    error = _error(lambda: client.network_watchers.create_or_update(group, "second", {"location": LOCATION}))
    assert error.error.code == "NetworkWatcherCountLimitReached"


def test_in_use_changes_are_refused(vpn) -> None:  # type: ignore[no-untyped-def]
    client, group = vpn["client"], vpn["group"]
    # Moving the subnet off its NIC's address is refused, and nothing changes.
    error = _error(
        lambda: client.subnets.begin_create_or_update(
            group, "vnet", "work", {"properties": {"addressPrefix": "10.20.2.0/24"}}
        )
    )
    assert error.error.code == "InUseSubnetCannotBeUpdated"
    assert client.subnets.get(group, "vnet", "work").properties.address_prefix == "10.20.1.0/24"
    # A VNet PUT without the subnet in use would delete it: refused as a subnet delete.
    error = _error(
        lambda: client.virtual_networks.begin_create_or_update(
            group, "vnet", {"location": LOCATION, "properties": {"addressSpace": {"addressPrefixes": ["10.20.0.0/16"]}}}
        )
    )
    assert error.error.code == "InUseSubnetCannotBeDeleted"
    assert len(client.virtual_networks.get(group, "vnet").properties.subnets) == 2
    asg = client.application_security_groups.begin_create_or_update(group, "asg", {"location": LOCATION}).result()
    client.network_interfaces.begin_create_or_update(
        group,
        "asg-nic",
        {
            "location": LOCATION,
            "properties": {
                "ipConfigurations": [
                    {
                        "name": "c",
                        "properties": {
                            "subnet": {"id": f"{vpn['vnet'].id}/subnets/work"},
                            "applicationSecurityGroups": [{"id": asg.id}],
                        },
                    }
                ]
            },
        },
    ).result()
    assert client.network_interfaces.get(group, "asg-nic").properties.ip_configurations[
        0
    ].properties.private_ip_address == (
        "10.20.1.5"  # .4 is taken by work-nic
    )
    assert _error(lambda: client.application_security_groups.begin_delete(group, "asg")).error.code == (
        "ApplicationSecurityGroupInUse"
    )
    client.network_interfaces.begin_delete(group, "asg-nic").result()
    client.application_security_groups.begin_delete(group, "asg").result()
    with pytest.raises(ResourceNotFoundError):
        client.application_security_groups.get(group, "asg")


def test_troubleshoot_diagnoses_the_configuration(vpn) -> None:  # type: ignore[no-untyped-def]
    client, group = vpn["client"], vpn["group"]

    def diagnose(target: str):  # type: ignore[no-untyped-def]
        parameters = {"targetResourceId": target, "properties": {"storageId": "unused", "storagePath": "unused"}}
        return client.network_watchers.begin_get_troubleshooting(group, "watcher", parameters).result()

    healthy = diagnose(vpn["connection"].id)
    assert (healthy.code, [r.id for r in healthy.results]) == ("Healthy", ["NoFault"])
    # A local network inside the VNet's own space.
    inside = client.local_network_gateways.begin_create_or_update(
        group,
        "inside",
        {
            "location": LOCATION,
            "properties": {
                "gatewayIpAddress": "192.0.2.20",
                "localNetworkAddressSpace": {"addressPrefixes": ["10.20.9.0/24"]},
            },
        },
    ).result()
    bad = client.virtual_network_gateway_connections.begin_create_or_update(
        group,
        "to-inside",
        {
            "location": LOCATION,
            "properties": {
                "connectionType": "IPsec",
                "virtualNetworkGateway1": {"id": vpn["gateway"].id},
                "localNetworkGateway2": {"id": inside.id},
                "sharedKey": "k",
            },
        },
    ).result()
    assert [r.id for r in diagnose(bad.id).results] == ["OverlappingAddressSpaces"]
    assert diagnose(vpn["gateway"].id).code == "UnHealthy"  # the gateway reports its connections' faults
    client.virtual_network_gateway_connections.begin_delete(group, "to-inside").result()
    assert diagnose(vpn["gateway"].id).code == "Healthy"

    # Vnet2Vnet: a second VNet with its own gateway.
    other = client.virtual_networks.begin_create_or_update(
        group,
        "vnet2",
        {
            "location": LOCATION,
            "properties": {
                "addressSpace": {"addressPrefixes": ["10.30.0.0/16"]},
                "subnets": [{"name": "GatewaySubnet", "properties": {"addressPrefix": "10.30.255.0/27"}}],
            },
        },
    ).result()
    gw2 = client.virtual_network_gateways.begin_create_or_update(
        group,
        "gw2",
        {
            "location": LOCATION,
            "properties": {
                "bgpSettings": {"asn": 65020},
                "ipConfigurations": [
                    {"name": "default", "properties": {"subnet": {"id": f"{other.id}/subnets/GatewaySubnet"}}}
                ],
            },
        },
    ).result()

    def v2v(name: str, first: str, second: str, key: str):  # type: ignore[no-untyped-def]
        return client.virtual_network_gateway_connections.begin_create_or_update(
            group,
            name,
            {
                "location": LOCATION,
                "properties": {
                    "connectionType": "Vnet2Vnet",
                    "virtualNetworkGateway1": {"id": first},
                    "virtualNetworkGateway2": {"id": second},
                    "sharedKey": key,
                },
            },
        ).result()

    there = v2v("gw-to-gw2", vpn["gateway"].id, gw2.id, "alpha")
    assert [r.id for r in diagnose(there.id).results] == ["ConnectionNotConfiguredOnGateway"]
    v2v("gw2-to-gw", gw2.id, vpn["gateway"].id, "beta")
    assert [r.id for r in diagnose(there.id).results] == ["Authentication"]  # shared keys differ
    v2v("gw2-to-gw", gw2.id, vpn["gateway"].id, "alpha")
    assert diagnose(there.id).code == "Healthy"
    # The other VNet's space is now a gateway route from the first VNet.
    hop = client.network_watchers.begin_get_next_hop(
        group,
        "watcher",
        {"targetResourceId": vpn["nic"].id, "sourceIPAddress": "10.20.1.4", "destinationIPAddress": "10.30.0.9"},
    ).result()
    assert (hop.next_hop_type, hop.next_hop_ip_address) == ("VirtualNetworkGateway", "10.20.255.4")


def test_a_nic_whose_subnet_went_with_another_group(vpn, warden_server) -> None:  # type: ignore[no-untyped-def]
    """Deleting a group deletes its VNet even if another group's NIC uses it; the watcher then says so
    instead of failing, and everything else keeps answering."""
    client, group = vpn["client"], vpn["group"]
    other = f"rg-gone-{uuid.uuid4().hex[:6]}"
    scope = f"{warden_server.sub_scope()}/resourceGroups/{other}"
    with warden_server.client() as http:
        assert http.put(scope, params={"api-version": "2021-04-01"}, json={"location": LOCATION}).status_code == 201
    far = client.virtual_networks.begin_create_or_update(
        other,
        "far",
        {
            "location": LOCATION,
            "properties": {
                "addressSpace": {"addressPrefixes": ["10.60.0.0/16"]},
                "subnets": [{"name": "s", "properties": {"addressPrefix": "10.60.0.0/24"}}],
            },
        },
    ).result()
    nic = client.network_interfaces.begin_create_or_update(
        group,
        "orphan-nic",
        {
            "location": LOCATION,
            "properties": {
                "ipConfigurations": [{"name": "c", "properties": {"subnet": {"id": f"{far.id}/subnets/s"}}}]
            },
        },
    ).result()
    with warden_server.client() as http:
        deleted = http.delete(scope, params={"api-version": "2021-04-01"})
        deadline = time.monotonic() + 30
        while deleted.status_code == 202 and time.monotonic() < deadline:
            time.sleep(0.2)
            deleted = http.get(deleted.headers["Location"])
        assert deleted.status_code in (200, 204), deleted.text
    error = _error(
        lambda: client.network_watchers.begin_verify_ip_flow(
            group,
            "watcher",
            {
                "targetResourceId": nic.id,
                "direction": "Inbound",
                "protocol": "TCP",
                "localPort": "22",
                "remotePort": "1",
                "localIPAddress": "10.60.0.4",
                "remoteIPAddress": "8.8.8.8",
            },
        )
    )
    assert (error.status_code, error.error.code) == (400, "InvalidResourceReference")
    routes = client.network_interfaces.begin_get_effective_route_table(group, "work-nic").result().value
    assert routes
    client.network_interfaces.begin_delete(group, "orphan-nic").result()


def test_a_lock_on_a_subnet_holds_against_its_vnets_put(vpn, warden_server) -> None:  # type: ignore[no-untyped-def]
    client, group = vpn["client"], vpn["group"]
    body = {
        "location": LOCATION,
        "properties": {
            "addressSpace": {"addressPrefixes": ["10.70.0.0/16"]},
            "subnets": [
                {"name": "a", "properties": {"addressPrefix": "10.70.1.0/24"}},
                {"name": "b", "properties": {"addressPrefix": "10.70.2.0/24"}},
            ],
        },
    }
    vnet = client.virtual_networks.begin_create_or_update(group, "locked", body).result()
    lock = f"{vnet.id}/subnets/b/providers/Microsoft.Authorization/locks/keep"
    with warden_server.client() as http:
        made = http.put(lock, params={"api-version": "2016-09-01"}, json={"properties": {"level": "CanNotDelete"}})
        assert made.status_code in (200, 201), made.text
        try:
            only_a = {**body, "properties": {**body["properties"], "subnets": body["properties"]["subnets"][:1]}}
            error = _error(lambda: client.virtual_networks.begin_create_or_update(group, "locked", only_a))
            assert (error.status_code, error.error.code) == (409, "ScopeLocked")
            assert sorted(s.name for s in client.subnets.list(group, "locked")) == ["a", "b"]
        finally:
            http.delete(lock, params={"api-version": "2016-09-01"})
    client.virtual_networks.begin_delete(group, "locked").result()


def test_vm_model_holds_its_nic_until_deleted(vpn, warden_server) -> None:  # type: ignore[no-untyped-def]
    from azure.mgmt.compute import ComputeManagementClient

    client, group = vpn["client"], vpn["group"]
    compute = ComputeManagementClient(
        warden_server.credential(),
        warden_server.subscription,
        base_url=warden_server.endpoint,
        connection_verify=warden_server.ca,
        credential_scopes=[ARM_SCOPE],
        polling_interval=0.1,
    )
    nic = client.network_interfaces.begin_create_or_update(
        group,
        "vm-nic",
        {
            "location": LOCATION,
            "properties": {
                "ipConfigurations": [{"name": "c", "properties": {"subnet": {"id": f"{vpn['vnet'].id}/subnets/work"}}}]
            },
        },
    ).result()
    vm = {"location": LOCATION, "properties": {"networkProfile": {"networkInterfaces": [{"id": nic.id}]}}}
    compute.virtual_machines.begin_create_or_update(group, "vm", vm).result()
    taken = _error(lambda: compute.virtual_machines.begin_create_or_update(group, "vm-b", vm))
    assert taken.error.code == "NicInUse"  # a NIC belongs to one VM
    assert _error(lambda: client.network_interfaces.begin_delete(group, "vm-nic")).error.code == "NicInUse"
    compute.virtual_machines.begin_delete(group, "vm").result()
    assert client.network_interfaces.get(group, "vm-nic").properties.virtual_machine is None
    client.network_interfaces.begin_delete(group, "vm-nic").result()
