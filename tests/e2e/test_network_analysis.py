"""``warden network analyze|exposure|what-if``, ``verify/next-hop --explain`` and ``topology --format`` against a
real server: a small topology built with azure-mgmt-network, the CLI run as a user would. Expected answers follow
the rules as written (comments), not the engine's output.

Topology (region norwayeast, one resource group):
  hub 10.0.0.0/16, subnet web 10.0.1.0/24 (NSG subnet-nsg, route table rt: 10.5.0.0/16 -> None)
  web-nic 10.0.1.4 (NSG nic-nsg, public IP), db-nic 10.0.1.5 (NSG nic-nsg, no public IP)
  subnet-nsg: 100 Allow Tcp Internet -> 80,443; 110 Allow Tcp * -> 22; 200 Deny Tcp -> 3389; 300 Allow Tcp -> 3389
  nic-nsg:    100 Allow Tcp 0.0.0.0/0 -> 443;   110 Allow Tcp 8.8.8.0/24 -> 22
  flawed (applied nowhere): 100 Allow Tcp * -> 22; 110 Deny Tcp 10.0.0.0/8 -> 22; 120 Allow Tcp 0.0.0.0/0 -> 27017
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
from azure.mgmt.network import NetworkManagementClient
from typer.testing import CliRunner

from support.server import ARM_SCOPE
from warden.cli.main import app

pytestmark = pytest.mark.e2e
LOCATION = "norwayeast"  # a region no other e2e module puts a watcher in (one per region)


def _rule(name: str, priority: int, access: str, source: str, ports: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "properties": {
            "priority": priority,
            "direction": "Inbound",
            "access": access,
            "protocol": "Tcp",
            "sourceAddressPrefix": source,
            "sourcePortRange": "*",
            "destinationAddressPrefix": "*",
            "destinationPortRanges": ports,
        },
    }


SUBNET_RULES = [
    _rule("AllowWebIn", 100, "Allow", "Internet", ["80", "443"]),
    _rule("AllowSSH", 110, "Allow", "*", ["22"]),
    _rule("DenyRDP", 200, "Deny", "*", ["3389"]),
    _rule("AllowRDP", 300, "Allow", "*", ["3389"]),
]
NIC_RULES = [
    _rule("AllowHttps", 100, "Allow", "0.0.0.0/0", ["443"]),
    _rule("AllowSSHFromOffice", 110, "Allow", "8.8.8.0/24", ["22"]),
]
FLAWED_RULES = [
    _rule("AllowSSHAnywhere", 100, "Allow", "*", ["22"]),
    _rule("DenySSHFromCorp", 110, "Deny", "10.0.0.0/8", ["22"]),
    _rule("AllowMongo", 120, "Allow", "0.0.0.0/0", ["27017"]),
]


@pytest.fixture(scope="module")
def topo(warden_server):  # type: ignore[no-untyped-def]
    client = NetworkManagementClient(
        warden_server.credential(),
        warden_server.subscription,
        base_url=warden_server.endpoint,
        connection_verify=warden_server.ca,
        credential_scopes=[ARM_SCOPE],
        polling_interval=0.1,
    )
    group = f"rg-ana-{uuid.uuid4().hex[:6]}"
    with warden_server.client() as http:
        created = http.put(
            f"{warden_server.sub_scope()}/resourceGroups/{group}",
            params={"api-version": "2021-04-01"},
            json={"location": LOCATION},
        )
        assert created.status_code == 201, created.text
    nsgs = {}
    for name, rules in (("subnet-nsg", SUBNET_RULES), ("nic-nsg", NIC_RULES), ("flawed", FLAWED_RULES)):
        body = {"location": LOCATION, "properties": {"securityRules": rules}}
        nsgs[name] = client.network_security_groups.begin_create_or_update(group, name, body).result()
    table = client.route_tables.begin_create_or_update(
        group,
        "rt",
        {
            "location": LOCATION,
            "properties": {
                "routes": [{"name": "blackhole", "properties": {"addressPrefix": "10.5.0.0/16", "nextHopType": "None"}}]
            },
        },
    ).result()
    vnet = client.virtual_networks.begin_create_or_update(
        group,
        "hub",
        {
            "location": LOCATION,
            "properties": {
                "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                "subnets": [
                    {
                        "name": "web",
                        "properties": {
                            "addressPrefix": "10.0.1.0/24",
                            "networkSecurityGroup": {"id": nsgs["subnet-nsg"].id},
                            "routeTable": {"id": table.id},
                        },
                    }
                ],
            },
        },
    ).result()
    subnet = vnet.properties.subnets[0].id
    pip = client.public_ip_addresses.begin_create_or_update(
        group, "web-pip", {"location": LOCATION, "properties": {"publicIPAllocationMethod": "Static"}}
    ).result()
    nics = {}
    for name, address, public in (("web-nic", "10.0.1.4", pip.id), ("db-nic", "10.0.1.5", None)):
        config: dict[str, Any] = {
            "subnet": {"id": subnet},
            "privateIPAllocationMethod": "Static",
            "privateIPAddress": address,
        }
        if public:
            config["publicIPAddress"] = {"id": public}
        nics[name] = client.network_interfaces.begin_create_or_update(
            group,
            name,
            {
                "location": LOCATION,
                "properties": {
                    "networkSecurityGroup": {"id": nsgs["nic-nsg"].id},
                    "ipConfigurations": [{"name": "ipconfig1", "properties": config}],
                },
            },
        ).result()
    vm = {
        "location": LOCATION,
        "properties": {
            "hardwareProfile": {"vmSize": "Standard_B1s"},
            "networkProfile": {"networkInterfaces": [{"id": nics["web-nic"].id, "properties": {"primary": True}}]},
        },
    }
    with warden_server.client() as http:
        url = f"{warden_server.sub_scope()}/resourceGroups/{group}/providers/Microsoft.Compute/virtualMachines/web-vm"
        created = http.put(url, params={"api-version": "2024-07-01"}, json=vm)
        assert created.status_code in (200, 201), created.text
    client.network_watchers.create_or_update(group, "watcher", {"location": LOCATION})
    return {"server": warden_server, "group": group, "nics": nics, "nsgs": nsgs, "table": table}


def warden(topo: dict[str, Any], *args: str, code: int = 0) -> str:
    server = topo["server"]
    result = CliRunner().invoke(app, ["network", *args, "--data-dir", str(server.data_dir)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"raised {result.exception!r}\n{result.output}")
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert server.bootstrap["clientSecret"] not in result.output
    return result.output


def test_analyze_reports_each_kind(topo) -> None:  # type: ignore[no-untyped-def]
    answer = json.loads(warden(topo, "analyze", "--nsg", "flawed", "-g", topo["group"], "--output", "json"))
    (part,) = answer  # applied nowhere: analysed once, with an empty VirtualNetwork set
    assert part["subnet"] is None
    kinds = {(f["kind"], f["rule"]) for f in part["findings"]}
    assert ("shadowed", "DenySSHFromCorp") in kinds  # AllowSSHAnywhere (100) covers all of it, other verdict
    assert ("redundant", "DenySSHFromCorp") not in kinds
    assert ("over-permissive", "AllowSSHAnywhere") in kinds and ("over-permissive", "AllowMongo") in kinds
    mongo = next(f for f in part["findings"] if f["kind"] == "over-permissive" and f["rule"] == "AllowMongo")
    assert mongo["ports"] == [27017]
    assert mongo["flows"][0]["sourceAddresses"] == ["Internet (IPv4)"]  # 0.0.0.0/0: the IPv4 Internet
    table = warden(topo, "analyze", "--nsg", "flawed", "-g", topo["group"])
    assert "shadowed" in table and "DenySSHFromCorp" in table
    # the subnet NSG applies in web: analysed with web's sets; DenyRDP overrides part of... nothing (same box)
    subnet_answer = json.loads(warden(topo, "analyze", "--nsg", "subnet-nsg", "-g", topo["group"], "-o", "json"))
    assert [p["subnet"].rsplit("/", 1)[-1] for p in subnet_answer] == ["web"]
    found = {(f["kind"], f["rule"]) for f in subnet_answer[0]["findings"]}
    assert ("shadowed", "AllowRDP") in found  # DenyRDP (200) matches all AllowRDP (300) matches


def test_exposure_through_both_levels(topo) -> None:  # type: ignore[no-untyped-def]
    answer = json.loads(warden(topo, "exposure", "-g", topo["group"], "--output", "json"))
    by_nic = {item["networkInterface"].rsplit("/", 1)[-1]: item for item in answer}
    assert set(by_nic) == {"web-nic", "db-nic"}
    assert by_nic["db-nic"]["publicIp"] is False and by_nic["db-nic"]["flows"] == []
    web = by_nic["web-nic"]
    assert web["publicIp"] is True and web["addresses"] == ["10.0.1.4"] and web["virtualMachine"] == "web-vm"
    flows = {(tuple(f["protocols"]), tuple(f["sourceAddresses"]), tuple(f["destinationPorts"])) for f in web["flows"]}
    # 443: the subnet allows the Internet, the NIC 0.0.0.0/0 (IPv4). 22: subnet from anywhere, NIC from
    # 8.8.8.0/24 only. 80: the NIC's DenyAllInBound. 3389: the subnet's DenyRDP decides first.
    assert flows == {(("Tcp",), ("Internet (IPv4)",), ("443",)), (("Tcp",), ("8.8.8.0/24",), ("22",))}
    table = warden(topo, "exposure", "-g", topo["group"])
    assert "web-vm" in table and "8.8.8.0/24" in table and "db-nic" not in table


def test_what_if_flip_set(topo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    changed = {
        "location": LOCATION,
        "name": "nic-nsg",
        "properties": {
            "securityRules": [
                _rule("AllowHttps", 100, "Allow", "0.0.0.0/0", ["443"]),
                _rule("AllowHttp", 120, "Allow", "0.0.0.0/0", ["80"]),
            ]
        },
    }
    path = tmp_path / "nic-nsg.json"
    path.write_text(json.dumps(changed))
    answer = json.loads(warden(topo, "what-if", "--nsg", str(path), "-g", topo["group"], "--output", "json"))
    assert {(f["networkInterfaceId"].rsplit("/", 1)[-1], f["direction"], f["level"]) for f in answer} == {
        ("web-nic", "Inbound", "nic"),
        ("db-nic", "Inbound", "nic"),
    }
    web = next(f for f in answer if f["networkInterfaceId"].endswith("/web-nic"))
    assert [(f["sourceAddresses"], f["destinationAddresses"], f["destinationPorts"]) for f in web["allowToDeny"]] == [
        (["8.8.8.0/24"], ["10.0.1.4/32"], ["22"])
    ]
    assert [(f["sourceAddresses"], f["destinationPorts"]) for f in web["denyToAllow"]] == [
        (["Internet (IPv4)"], ["80"])
    ]
    # nothing was applied: the stored NSG is unchanged and the same flows verify as before
    assert "AllowSSHFromOffice" in warden(topo, "nsg", "show", "nic-nsg", "-g", topo["group"], "-o", "json")
    path.write_text(json.dumps({"name": "nic-nsg", "properties": {"securityRules": NIC_RULES}}))
    assert "No verdict changes." in warden(topo, "what-if", "--nsg", str(path), "-g", topo["group"])
    path.write_text("[1]")
    assert "one NSG document" in warden(topo, "what-if", "--nsg", str(path), "-g", topo["group"], code=1)
    # what a PUT would refuse is refused here too, with Azure's code
    clash = [_rule("A", 100, "Allow", "*", ["80"]), _rule("B", 100, "Deny", "*", ["81"])]
    path.write_text(json.dumps({"name": "nic-nsg", "properties": {"securityRules": clash}}))
    assert "SecurityRuleConflict" in warden(topo, "what-if", "--nsg", str(path), "-g", topo["group"], code=1)


def test_verify_and_next_hop_explain(topo) -> None:  # type: ignore[no-untyped-def]
    group = topo["group"]
    flow = ("verify", "--nic", "web-nic", "-g", group, "--direction", "Inbound", "--protocol", "TCP")
    denied = json.loads(warden(topo, *flow, "--local", "10.0.1.4:3389", "--remote", "8.8.4.4:50000", "-o", "json"))
    assert (denied["access"], denied["ruleName"]) == ("Deny", "securityRules/DenyRDP")
    assert [(b["level"], b["name"]) for b in denied["wardenBlockedBy"]] == [
        ("subnet", "securityRules/DenyRDP"),
        ("nic", "defaultSecurityRules/DenyAllInBound"),
    ]
    text = warden(topo, *flow, "--local", "10.0.1.4:3389", "--remote", "8.8.4.4:50000", "--explain")
    assert "DenyRDP" in text and "DenyAllInBound" in text and "change all of" in text
    assert "Nothing blocks" in warden(topo, *flow, "--local", "10.0.1.4:443", "--remote", "8.8.4.4:5", "--explain")
    hop = ("next-hop", "--nic", "web-nic", "-g", group, "--source", "10.0.1.4", "--destination", "10.5.1.1")
    answer = json.loads(warden(topo, *hop, "-o", "json"))
    assert answer["nextHopType"] == "None" and answer["routeTableId"] == topo["table"].id
    assert [(b["kind"], b["name"]) for b in answer["wardenBlockedBy"]] == [
        ("route", "blackhole"),
        ("route", "10.0.0.0/8"),  # the system None route takes over once the UDR is gone
    ]
    assert "blackhole" in warden(topo, *hop, "--explain")


def test_sdk_reads_answers_with_the_extra_field(topo) -> None:  # type: ignore[no-untyped-def]
    server = topo["server"]
    client = NetworkManagementClient(
        server.credential(),
        server.subscription,
        base_url=server.endpoint,
        connection_verify=server.ca,
        credential_scopes=[ARM_SCOPE],
        polling_interval=0.1,
    )
    result = client.network_watchers.begin_verify_ip_flow(
        topo["group"],
        "watcher",
        {
            "targetResourceId": topo["nics"]["web-nic"].id,
            "direction": "Inbound",
            "protocol": "TCP",
            "localPort": "3389",
            "remotePort": "50000",
            "localIPAddress": "10.0.1.4",
            "remoteIPAddress": "8.8.4.4",
        },
    ).result()
    assert (result.access, result.rule_name) == ("Deny", "securityRules/DenyRDP")


def test_topology_formats(topo) -> None:  # type: ignore[no-untyped-def]
    group = topo["group"]
    answer = json.loads(warden(topo, "topology", "-g", group, "--format", "json"))
    names = {r["name"] for r in answer["resources"]}
    assert {"hub", "web", "web-nic", "db-nic"} <= names
    dot = warden(topo, "topology", "-g", group, "--format", "dot")
    assert dot.startswith("digraph topology {") and dot.rstrip().endswith("}")
    web_nic = topo["nics"]["web-nic"].id.lower()
    assert f'"{web_nic}"' in dot and "style=dashed" in dot  # associations drawn as dashed edges
    if shutil.which("dot") is None:
        assert "graphviz" in warden(topo, "topology", "-g", group, "--format", "svg", code=1)
    else:
        assert "<svg" in warden(topo, "topology", "-g", group, "--format", "svg")
