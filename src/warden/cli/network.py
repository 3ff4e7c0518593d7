"""``warden network``: virtual networks, NSGs, NICs and route tables; Network Watcher's flow verification and next hop.

``verify`` and ``next-hop`` call the same ``networkWatchers/{w}/ipFlowVerify|nextHop`` operations as the
Azure SDKs, with the watcher of the target's region (or ``--watcher``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from warden.cli.client import CliError, Subscription, WardenClient, handle_errors
from warden.cli.common import DataDir
from warden.cli.output import Output, OutputFormat, render

API = "2024-05-01"
COMPUTE_API = "2024-07-01"
NETWORK = "providers/Microsoft.Network"
COMPUTE = "providers/Microsoft.Compute"

app = typer.Typer(help="Virtual networks and Network Watcher.", no_args_is_help=True)
ResourceGroup = typer.Option(None, "--resource-group", "-g", help="Resource group (default: the whole subscription).")
Group = typer.Option(..., "--resource-group", "-g", help="Resource group.")


def _group(item: dict[str, Any]) -> str:
    parts = str(item.get("id", "")).split("/")
    return parts[4] if len(parts) > 4 else ""


def _join(values: Any) -> str:
    return ", ".join(str(v) for v in values or [])


# (command name, ARM type, help, table columns)
KINDS: list[tuple[str, str, str, list[tuple[str, Any]]]] = [
    (
        "vnet",
        "virtualNetworks",
        "Virtual networks.",
        [
            ("Name", "name"),
            ("Group", _group),
            ("Location", "location"),
            ("Address space", lambda i: _join(i["properties"]["addressSpace"]["addressPrefixes"])),
            ("Subnets", lambda i: _join(s["name"] for s in i["properties"].get("subnets", []))),
        ],
    ),
    (
        "nsg",
        "networkSecurityGroups",
        "Network security groups.",
        [
            ("Name", "name"),
            ("Group", _group),
            ("Location", "location"),
            ("Rules", lambda i: len(i["properties"].get("securityRules", []))),
            ("Subnets", lambda i: _join(s["id"].rsplit("/", 1)[-1] for s in i["properties"].get("subnets", []))),
        ],
    ),
    (
        "nic",
        "networkInterfaces",
        "Network interfaces.",
        [
            ("Name", "name"),
            ("Group", _group),
            (
                "Private IPs",
                lambda i: _join(c["properties"]["privateIPAddress"] for c in i["properties"]["ipConfigurations"]),
            ),
            ("NSG", lambda i: (i["properties"].get("networkSecurityGroup") or {}).get("id", "").rsplit("/", 1)[-1]),
            ("VM", lambda i: (i["properties"].get("virtualMachine") or {}).get("id", "").rsplit("/", 1)[-1]),
        ],
    ),
    (
        "route-table",
        "routeTables",
        "Route tables.",
        [
            ("Name", "name"),
            ("Group", _group),
            ("Routes", lambda i: len(i["properties"].get("routes", []))),
            (
                "BGP propagation",
                lambda i: "Disabled" if i["properties"].get("disableBgpRoutePropagation") else "Enabled",
            ),
        ],
    ),
    (
        "vm",
        "virtualMachines",
        "Virtual machines (the model Network Watcher reasons about).",
        [
            ("Name", "name"),
            ("Group", _group),
            ("Location", "location"),
            ("Size", "properties.hardwareProfile.vmSize"),
            (
                "NICs",
                lambda i: _join(
                    n["id"].rsplit("/", 1)[-1] for n in i["properties"]["networkProfile"]["networkInterfaces"]
                ),
            ),
        ],
    ),
]


def _add_kind(command: str, arm_type: str, text: str, columns: list[tuple[str, Any]]) -> None:
    namespace, api = (COMPUTE, COMPUTE_API) if arm_type == "virtualMachines" else (NETWORK, API)
    sub = typer.Typer(help=text, no_args_is_help=True)

    @sub.command("list")
    @handle_errors
    def list_items(
        resource_group: str | None = ResourceGroup,
        data_dir: Path | None = DataDir,
        subscription: str | None = Subscription,
        output: OutputFormat = Output,
    ) -> None:
        """List them in a resource group or the subscription."""
        with WardenClient.from_data_dir(data_dir, subscription) as client:
            scope = client.group_scope(resource_group) if resource_group else client.subscription_scope
            render(client.list(f"{scope}/{namespace}/{arm_type}", api), output, columns)

    @sub.command("show")
    @handle_errors
    def show(
        name: str = typer.Argument(..., help="Name, or the full resource ID."),
        resource_group: str | None = ResourceGroup,
        data_dir: Path | None = DataDir,
        subscription: str | None = Subscription,
        output: OutputFormat = Output,
    ) -> None:
        """Show one."""
        with WardenClient.from_data_dir(data_dir, subscription) as client:
            render(client.get(_id(client, arm_type, name, resource_group, namespace), api), output, columns)

    app.add_typer(sub, name=command)


for _kind in KINDS:
    _add_kind(*_kind)


def _id(client: WardenClient, arm_type: str, name: str, resource_group: str | None, namespace: str = NETWORK) -> str:
    if name.startswith("/"):
        return name
    if not resource_group:
        raise typer.BadParameter("give --resource-group, or a full resource ID.", param_hint="--resource-group")
    return f"{client.group_scope(resource_group)}/{namespace}/{arm_type}/{name}"


def _target(client: WardenClient, vm: str | None, nic: str | None, resource_group: str | None) -> dict[str, Any]:
    """The VM or NIC resource a watcher question is about."""
    if (vm is None) == (nic is None):
        raise typer.BadParameter("give exactly one of --vm and --nic.", param_hint="--vm")
    if vm is not None:
        return client.get(
            _id(client, "virtualMachines", vm, resource_group, "providers/Microsoft.Compute"), COMPUTE_API
        )
    return client.get(_id(client, "networkInterfaces", nic or "", resource_group), API)


def _watcher(client: WardenClient, watcher: str | None, location: str, resource_group: str | None) -> str:
    """``--watcher`` (name or ID), else the subscription's watcher in ``location``."""
    if watcher:
        return _id(client, "networkWatchers", watcher, resource_group)
    for item in client.list(f"{client.subscription_scope}/{NETWORK}/networkWatchers", API):
        if item.get("location") == location:
            return str(item["id"])
    raise CliError(f"no network watcher in region '{location}'; create one or pass --watcher.")


def _endpoint(text: str, hint: str) -> tuple[str, str | None]:
    """``IP`` or ``IP:PORT``."""
    address, _, port = text.partition(":")
    if not address:
        raise typer.BadParameter(f"'{text}' is not IP or IP:PORT.", param_hint=hint)
    return address, port or None


Vm = typer.Option(None, "--vm", help="Virtual machine name or ID.")
Nic = typer.Option(None, "--nic", help="Network interface name or ID.")
Watcher = typer.Option(None, "--watcher", help="Network watcher name or ID (default: the one in the target's region).")


@app.command("verify")
@handle_errors
def verify(
    direction: str = typer.Option(..., "--direction", help="Inbound or Outbound."),
    protocol: str = typer.Option("TCP", "--protocol", help="TCP, UDP or ICMP."),
    local: str = typer.Option(..., "--local", help="The VM's address, IP:PORT."),
    remote: str = typer.Option(..., "--remote", help="The other end, IP:PORT."),
    vm: str | None = Vm,
    nic: str | None = Nic,
    resource_group: str | None = ResourceGroup,
    watcher: str | None = Watcher,
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """Is this packet allowed, and by which rule? (IP flow verify)"""
    local_ip, local_port = _endpoint(local, "--local")
    remote_ip, remote_port = _endpoint(remote, "--remote")
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        target = _target(client, vm, nic, resource_group)
        watcher_id = _watcher(client, watcher, target.get("location", ""), resource_group)
        body = {
            "targetResourceId": target["id"],
            "direction": direction,
            "protocol": protocol,
            "localIPAddress": local_ip,
            "localPort": local_port or "0",
            "remoteIPAddress": remote_ip,
            "remotePort": remote_port or "0",
        }
        result = client.post(f"{watcher_id}/ipFlowVerify", API, body)
    render(result, output, [("Access", "access"), ("Rule", "ruleName")])


@app.command("next-hop")
@handle_errors
def next_hop(
    source: str = typer.Option(..., "--source", help="The VM's address."),
    destination: str = typer.Option(..., "--destination", help="Where the packet goes."),
    vm: str | None = Vm,
    nic: str | None = Nic,
    resource_group: str | None = ResourceGroup,
    watcher: str | None = Watcher,
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """Where does this packet go next? (next hop)"""
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        target = _target(client, vm, nic, resource_group)
        watcher_id = _watcher(client, watcher, target.get("location", ""), resource_group)
        body = {"targetResourceId": target["id"], "sourceIPAddress": source, "destinationIPAddress": destination}
        result = client.post(f"{watcher_id}/nextHop", API, body)
    columns = [("Next hop type", "nextHopType"), ("Next hop IP", "nextHopIpAddress"), ("Route table", "routeTableId")]
    render(result, output, columns)


RULE_COLUMNS = [
    ("NSG", "nsg"),
    ("Applied to", "level"),
    ("Direction", "direction"),
    ("Priority", "priority"),
    ("Rule", "name"),
    ("Access", "access"),
    ("Protocol", "protocol"),
    ("Source", lambda r: _join(r["sourceAddressPrefixes"])),
    ("Destination", lambda r: _join(r["destinationAddressPrefixes"])),
    ("Ports", lambda r: _join(r["destinationPortRanges"])),
]


@app.command("rules")
@handle_errors
def rules(
    vm: str | None = Vm,
    nic: str | None = Nic,
    resource_group: str | None = ResourceGroup,
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """The security rules that apply to a VM's NICs, in evaluation order (effective network security groups)."""
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        target = _target(client, vm, nic, resource_group)
        if "networkProfile" in target.get("properties", {}):
            nics = [n["id"] for n in target["properties"]["networkProfile"]["networkInterfaces"]]
        else:
            nics = [target["id"]]
        answers = [client.post(f"{nic_id}/effectiveNetworkSecurityGroups", API) for nic_id in nics]
    if output == OutputFormat.json:
        render(answers, output, [])
        return
    rows = []
    for answer in answers:
        for group in answer.get("value", []):
            level = next(iter(group.get("association", {})), "")
            name = group["networkSecurityGroup"]["id"].rsplit("/", 1)[-1]
            rows += [{**rule, "nsg": name, "level": level} for rule in group.get("effectiveSecurityRules", [])]
    render(rows, output, RULE_COLUMNS)


@app.command("topology")
@handle_errors
def topology(
    resource_group: str = Group,
    location: str | None = typer.Option(None, "--location", help="Watcher region (default: the group's)."),
    watcher: str | None = Watcher,
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """The network resources of a resource group and how they are associated."""
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        region = location or client.get(client.group_scope(resource_group), "2021-04-01").get("location", "")
        watcher_id = _watcher(client, watcher, region, resource_group)
        result = client.post(f"{watcher_id}/topology", API, {"targetResourceGroupName": resource_group})
    if output == OutputFormat.json:
        render(result, output, [])
        return
    columns = [
        ("Resource", "name"),
        ("Type", lambda r: "/".join(r["id"].split("/providers/", 1)[-1].split("/")[1::2][:2])),
        ("Contains", lambda r: _join(a["name"] for a in r["associations"] if a["associationType"] == "Contains")),
        ("Associated", lambda r: _join(a["name"] for a in r["associations"] if a["associationType"] == "Associated")),
    ]
    render(result.get("resources", []), output, columns)
