"""``warden workspace``: Log Analytics workspaces (``Microsoft.OperationalInsights/workspaces``).

Also holds ``resolve_workspace``, which ``warden logs`` and ``warden dcr`` use to turn a workspace
named by name, resource ID or customerId into its ARM resource.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from warden.cli.client import CliError, Subscription, WardenClient, handle_errors
from warden.cli.common import DataDir
from warden.cli.output import Output, OutputFormat, print_json, print_table, render, resource_group_of

API = "2022-10-01"
GROUPS_API = "2021-04-01"
WORKSPACE_TYPE = "Microsoft.OperationalInsights/workspaces"
COLUMNS = [
    ("Name", "name"),
    ("Resource group", lambda item: resource_group_of(item.get("id"))),
    ("Location", "location"),
    ("SKU", "properties.sku.name"),
    ("Retention (days)", "properties.retentionInDays"),
    ("Customer ID", "properties.customerId"),
    ("State", "properties.provisioningState"),
]
SHOW_COLUMNS = [*COLUMNS, ("ID", "id")]

app = typer.Typer(help="Log Analytics workspaces.", no_args_is_help=True)

ResourceGroup = typer.Option(..., "--resource-group", "-g", help="Resource group name.")


class KeyName(StrEnum):
    primary = "primary"
    secondary = "secondary"


def workspace_path(client: WardenClient, resource_group: str, name: str) -> str:
    """The ARM ID of workspace ``name`` in ``resource_group`` of the client's subscription."""
    return f"{client.group_scope(resource_group)}/providers/{WORKSPACE_TYPE}/{name}"


def _is_guid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return len(text) == 36


def resolve_workspace(client: WardenClient, ref: str, resource_group: str | None = None) -> dict[str, Any]:
    """The workspace resource named by ``ref``: a resource ID, a customerId (GUID) or a name
    (looked up in the subscription, or in ``resource_group`` when given).

    Raises ``CliError`` when nothing matches or a name matches workspaces in several groups.
    """
    ref = ref.strip()
    if ref.startswith("/"):
        return client.get(ref.rstrip("/"), API)
    if resource_group and not _is_guid(ref):
        return client.get(workspace_path(client, resource_group, ref), API)
    scope = client.group_scope(resource_group) if resource_group else client.subscription_scope
    workspaces = client.list(f"{scope}/providers/{WORKSPACE_TYPE}", API)
    if _is_guid(ref):
        found = [w for w in workspaces if str(w.get("properties", {}).get("customerId", "")).lower() == ref.lower()]
    else:
        found = [w for w in workspaces if str(w.get("name", "")).lower() == ref.lower()]
    if not found:
        where = f"resource group {resource_group}" if resource_group else f"subscription {client.subscription_id}"
        raise CliError(f"no workspace '{ref}' in {where}.", code="ResourceNotFound")
    if len(found) > 1:
        groups = ", ".join(sorted(resource_group_of(w.get("id")) for w in found))
        raise CliError(f"several workspaces are named '{ref}' (resource groups {groups}): pass --resource-group.")
    return found[0]


@app.command("create")
@handle_errors
def create(
    name: str = typer.Argument(..., help="Workspace name."),
    resource_group: str = ResourceGroup,
    location: str | None = typer.Option(
        None, "--location", "-l", help="Location (default: the resource group's).", show_default=False
    ),
    retention: int | None = typer.Option(
        None, "--retention", help="Retention in days, 30-730 (default: 30; the Free SKU keeps 7).", show_default=False
    ),
    sku: str = typer.Option("PerGB2018", "--sku", help="Pricing tier, e.g. PerGB2018, Free, Standalone."),
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """Create a workspace, or update the retention and SKU of an existing one."""
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        if location is None:
            location = client.get(client.group_scope(resource_group), GROUPS_API)["location"]
        properties: dict[str, Any] = {"sku": {"name": sku}}
        if retention is not None:
            properties["retentionInDays"] = retention
        body = {"location": location, "properties": properties}
        render(client.put(workspace_path(client, resource_group, name), API, body), output, SHOW_COLUMNS)


@app.command("list")
@handle_errors
def list_workspaces(
    resource_group: str | None = typer.Option(None, "--resource-group", "-g", help="Only this resource group."),
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """List the workspaces of the subscription or of one resource group."""
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        scope = client.group_scope(resource_group) if resource_group else client.subscription_scope
        render(client.list(f"{scope}/providers/{WORKSPACE_TYPE}", API), output, COLUMNS)


@app.command("show")
@handle_errors
def show(
    name: str = typer.Argument(..., help="Workspace name."),
    resource_group: str = ResourceGroup,
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """Show one workspace."""
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        render(client.get(workspace_path(client, resource_group, name), API), output, SHOW_COLUMNS)


@app.command("keys")
@handle_errors
def keys(
    name: str = typer.Argument(..., help="Workspace name."),
    resource_group: str = ResourceGroup,
    regenerate: KeyName | None = typer.Option(
        None, "--regenerate", help="Replace this key first (the other stays valid).", case_sensitive=False
    ),
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """Show the workspace's shared keys (they sign Data Collector API requests), optionally after
    regenerating one of them. This command prints secrets: that is its purpose."""
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        workspace_id = workspace_path(client, resource_group, name)
        if regenerate is not None:
            result = client.post(f"{workspace_id}/regenerateSharedKey", API, {"keyName": regenerate.value})
        else:
            result = client.post(f"{workspace_id}/sharedKeys", API)
        customer_id = client.get(workspace_id, API)["properties"]["customerId"]
    if output == OutputFormat.json:
        print_json(result)
        return
    rows = [
        {"field": "Workspace ID (customerId)", "value": customer_id},
        {"field": "Primary key", "value": (result or {}).get("primarySharedKey")},
        {"field": "Secondary key", "value": (result or {}).get("secondarySharedKey")},
    ]
    print_table(rows, [("Field", "field"), ("Value", "value")])
