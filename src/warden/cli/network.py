"""``warden network``: virtual networks, NSGs, NICs and route tables; Network Watcher's flow verification and next hop.

``verify`` and ``next-hop`` call the same ``networkWatchers/{w}/ipFlowVerify|nextHop`` operations as the
Azure SDKs, with the watcher of the target's region (or ``--watcher``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from warden.cli.client import CliError, Subscription, WardenClient, handle_errors
from warden.cli.common import DataDir
from warden.cli.output import Output, OutputFormat, print_json, render
from warden.network import reports
from warden.network.gathering import LISTED

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
    explain: bool = typer.Option(False, "--explain", help="When denied, list every rule that would have to change."),
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
    if explain and output == OutputFormat.table:
        _explain(result)


@app.command("next-hop")
@handle_errors
def next_hop(
    source: str = typer.Option(..., "--source", help="The VM's address."),
    destination: str = typer.Option(..., "--destination", help="Where the packet goes."),
    vm: str | None = Vm,
    nic: str | None = Nic,
    resource_group: str | None = ResourceGroup,
    watcher: str | None = Watcher,
    explain: bool = typer.Option(
        False, "--explain", help="When black-holed, list every route that would have to change."
    ),
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
    if explain and output == OutputFormat.table:
        _explain(result)


BLOCKED_FIELD = "wardenBlockedBy"  # the server's blocked-path answer (``network.watchers.BLOCKED_FIELD``)
BLOCKER_COLUMNS = [("Level", "level"), ("Kind", "kind"), ("Name", "name"), ("Where", "id"), ("Why", "detail")]


def _explain(result: dict[str, Any]) -> None:
    """Print the blocked-path list (``--explain``): every rule or route that would have to change."""
    blockers = result.get(BLOCKED_FIELD)
    if blockers is None:
        typer.echo("Nothing blocks this flow.")
        return
    typer.echo("To let this flow pass, change all of:")
    render(blockers, OutputFormat.table, BLOCKER_COLUMNS)


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


class TopologyFormat(StrEnum):
    json = "json"
    dot = "dot"
    svg = "svg"


def _dot_id(text: str) -> str:
    return json.dumps(text)  # a double-quoted DOT ID with quotes and backslashes escaped


def topology_dot(answer: dict[str, Any]) -> str:
    """The watcher's topology answer as Graphviz DOT: one node per resource (labelled name and type), a solid
    edge per ``Contains`` association and a dashed one per ``Associated``."""
    lines = ["digraph topology {", "  rankdir=LR;", "  node [shape=box, fontname=Helvetica];"]
    resources = answer.get("resources", [])
    for item in resources:
        kind = "/".join(item["id"].split("/providers/", 1)[-1].split("/")[1::2][:2])
        lines.append(f"  {_dot_id(item['id'].lower())} [label={_dot_id(item['name'] + chr(10) + kind)}];")
    for item in resources:
        for link in item.get("associations", []):
            style = "solid" if link.get("associationType") == "Contains" else "dashed"
            lines.append(f"  {_dot_id(item['id'].lower())} -> {_dot_id(link['resourceId'].lower())} [style={style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


@app.command("topology")
@handle_errors
def topology(
    resource_group: str = Group,
    location: str | None = typer.Option(None, "--location", help="Watcher region (default: the group's)."),
    watcher: str | None = Watcher,
    fmt: TopologyFormat | None = typer.Option(
        None, "--format", case_sensitive=False, help="json (the watcher's answer), dot (Graphviz text) or svg."
    ),
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """The network resources of a resource group and how they are associated."""
    if fmt == TopologyFormat.svg and shutil.which("dot") is None:
        # checked before any request: nothing to draw with
        raise CliError("--format svg needs Graphviz's 'dot' program: install the 'graphviz' package.")
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        region = location or client.get(client.group_scope(resource_group), "2021-04-01").get("location", "")
        watcher_id = _watcher(client, watcher, region, resource_group)
        result = client.post(f"{watcher_id}/topology", API, {"targetResourceGroupName": resource_group})
    if fmt == TopologyFormat.dot:
        sys.stdout.write(topology_dot(result))
        return
    if fmt == TopologyFormat.svg:
        drawn = subprocess.run(
            ["dot", "-Tsvg"], input=topology_dot(result), capture_output=True, text=True, check=False
        )
        if drawn.returncode != 0:
            raise CliError(f"dot failed: {drawn.stderr.strip()}")
        sys.stdout.write(drawn.stdout)
        return
    if output == OutputFormat.json or fmt == TopologyFormat.json:
        print_json(result)
        return
    columns = [
        ("Resource", "name"),
        ("Type", lambda r: "/".join(r["id"].split("/providers/", 1)[-1].split("/")[1::2][:2])),
        ("Contains", lambda r: _join(a["name"] for a in r["associations"] if a["associationType"] == "Contains")),
        ("Associated", lambda r: _join(a["name"] for a in r["associations"] if a["associationType"] == "Associated")),
    ]
    render(result.get("resources", []), output, columns)


# ---- beyond Azure: analysis, exposure, what-if ---------------------------------------------------------------


def _documents(client: WardenClient) -> dict[str, list[dict[str, Any]]]:
    """Every resource the analyses need, listed over the whole subscription (peerings, gateways and ASGs in other
    groups change the ``VirtualNetwork`` sets), as the caller may read them."""
    out = {}
    for type_name in LISTED:
        api = COMPUTE_API if type_name.startswith("Microsoft.Compute/") else API
        out[type_name] = client.list(f"{client.subscription_scope}/providers/{type_name}", api)
    return out


FINDING_COLUMNS = [
    ("Subnet", lambda f: (f.get("subnet") or "(not applied)").rsplit("/", 1)[-1]),
    ("Kind", "kind"),
    ("Direction", "direction"),
    ("Priority", "priority"),
    ("Rule", "rule"),
    ("Access", "access"),
    ("Finding", "message"),
]


@app.command("analyze")
@handle_errors
def analyze(
    nsg: str = typer.Option(..., "--nsg", help="NSG name, or its full resource ID."),
    resource_group: str | None = ResourceGroup,
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """Shadowed, redundant, conflicting and over-permissive rules of an NSG, exact over ranges."""
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        nsg_id = client.get(_id(client, "networkSecurityGroups", nsg, resource_group), API)["id"]
        answer = reports.analyze(_documents(client), nsg_id)
    if output == OutputFormat.json:
        print_json(answer)
        return
    rows = [{**finding, "subnet": part["subnet"]} for part in answer for finding in part["findings"]]
    if not rows:
        typer.echo("No findings.")
        return
    render(rows, output, FINDING_COLUMNS)


def _flow_rows(flows: list[dict[str, Any]], **extra: Any) -> list[dict[str, Any]]:
    return [
        {
            **extra,
            "protocols": _join(f["protocols"]),
            "source": _join(f["sourceAddresses"]),
            "destination": _join(f["destinationAddresses"]),
            "ports": _join(f["destinationPorts"]) or "-",
        }
        for f in flows
    ]


@app.command("exposure")
@handle_errors
def exposure(
    resource_group: str | None = ResourceGroup,
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """Every (VM/NIC, protocol, port range, source range) reachable from the Internet, through both NSG levels.

    Only NICs with a public IP are reachable from the Internet; the others are listed with no flows (json)."""
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        answer = reports.exposure_report(_documents(client), resource_group)
    if output == OutputFormat.json:
        print_json(answer)
        return
    rows = []
    for item in answer:
        name = item["virtualMachine"] or item["networkInterface"].rsplit("/", 1)[-1]
        rows += _flow_rows(item["flows"], target=name)
    if not rows:
        typer.echo("Nothing is reachable from the Internet.")
        return
    columns = [("VM/NIC", "target"), ("Protocols", "protocols"), ("From", "source"), ("To", "destination")]
    render(rows, output, [*columns, ("Ports", "ports")])


@app.command("what-if")
@handle_errors
def what_if(
    nsg: Path = typer.Option(..., "--nsg", help="The changed NSG document (JSON, as an ARM PUT would send it)."),
    name: str | None = typer.Option(None, "--name", help="The NSG it changes (default: the document's id or name)."),
    resource_group: str | None = ResourceGroup,
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """The exact flows whose verdict the changed NSG would flip, per VM/NIC using it, before it is applied."""
    try:
        changed = json.loads(nsg.read_text())
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read {nsg}: {exc}") from None
    if not isinstance(changed, dict):
        raise CliError(f"{nsg} must hold one NSG document (a JSON object).")
    target = name or changed.get("id") or changed.get("name")
    if not target:
        raise CliError("the document has no id or name: pass --name.")
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        nsg_id = client.get(_id(client, "networkSecurityGroups", target, resource_group), API)["id"]
        try:
            answer = reports.what_if_report(_documents(client), changed, nsg_id)
        except ValueError as exc:
            raise CliError(str(exc)) from None
    if output == OutputFormat.json:
        print_json(answer)
        return
    rows = []
    for flip in answer:
        target_name = flip["virtualMachine"] or flip["networkInterfaceId"].rsplit("/", 1)[-1]
        for change, flows in (("Allow -> Deny", flip["allowToDeny"]), ("Deny -> Allow", flip["denyToAllow"])):
            rows += _flow_rows(flows, target=target_name, direction=flip["direction"], change=change)
    if not rows:
        typer.echo("No verdict changes.")
        return
    columns = [("VM/NIC", "target"), ("Direction", "direction"), ("Change", "change"), ("Protocols", "protocols")]
    render(rows, output, [*columns, ("From", "source"), ("To", "destination"), ("Ports", "ports")])
