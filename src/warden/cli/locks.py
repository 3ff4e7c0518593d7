"""``warden lock``: management locks at any scope."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from warden.cli.client import Subscription, WardenClient, handle_errors
from warden.cli.common import DataDir
from warden.cli.output import Output, OutputFormat, note, render

API = "2016-09-01"
PROVIDER = "providers/Microsoft.Authorization/locks"
COLUMNS = [
    ("Name", "name"),
    ("Level", "properties.level"),
    ("Scope", lambda item: str(item.get("id", "")).rsplit("/providers/Microsoft.Authorization/locks/", 1)[0] or "/"),
    ("Notes", "properties.notes"),
]


class LockLevel(StrEnum):
    CanNotDelete = "CanNotDelete"
    ReadOnly = "ReadOnly"


app = typer.Typer(help="Management locks.", no_args_is_help=True)

Scope = typer.Option(None, "--scope", help="Scope ID (default: the subscription).")
ResourceGroup = typer.Option(None, "--resource-group", "-g", help="Resource group (instead of --scope).")


def lock_scope(client: WardenClient, scope: str | None, resource_group: str | None) -> str:
    """The scope prefix for ``--scope`` / ``--resource-group`` (default: the subscription)."""
    if scope is not None and resource_group is not None:
        raise typer.BadParameter("give --scope or --resource-group, not both.", param_hint="--scope")
    if resource_group is not None:
        return client.group_scope(resource_group)
    if scope is None:
        return client.subscription_scope
    if not scope.startswith("/") or scope.startswith("//"):
        raise typer.BadParameter(f"'{scope}' is not a scope: it must start with '/'.", param_hint="--scope")
    return scope.rstrip("/")


@app.command("create")
@handle_errors
def create(
    name: str = typer.Argument(..., help="Lock name."),
    level: LockLevel = typer.Option(..., "--level", help="CanNotDelete or ReadOnly.", case_sensitive=False),
    scope: str | None = Scope,
    resource_group: str | None = ResourceGroup,
    notes: str | None = typer.Option(None, "--notes", help="Why the lock exists."),
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """Create or update a lock."""
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        path = lock_scope(client, scope, resource_group)
        properties: dict[str, str] = {"level": level.value}
        if notes is not None:
            properties["notes"] = notes
        render(client.put(f"{path}/{PROVIDER}/{name}", API, {"properties": properties}), output, COLUMNS)


@app.command("list")
@handle_errors
def list_locks(
    scope: str | None = Scope,
    resource_group: str | None = ResourceGroup,
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """List the locks at and below a scope."""
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        path = lock_scope(client, scope, resource_group)
        render(client.list(f"{path}/{PROVIDER}", API), output, COLUMNS)


def _lock_id(client: WardenClient, name: str, scope: str | None, resource_group: str | None) -> str:
    """A lock's full ID from its name (at ``--scope`` / ``--resource-group``) or the ID itself."""
    return name if name.startswith("/") else f"{lock_scope(client, scope, resource_group)}/{PROVIDER}/{name}"


@app.command("show")
@handle_errors
def show(
    name: str = typer.Argument(..., help="Lock name, or the lock's full ID."),
    scope: str | None = Scope,
    resource_group: str | None = ResourceGroup,
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """Show one lock."""
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        lock_id = _lock_id(client, name, scope, resource_group)
        render(client.get(lock_id, API), output, COLUMNS)


@app.command("delete")
@handle_errors
def delete(
    name: str = typer.Argument(..., help="Lock name, or the lock's full ID."),
    scope: str | None = Scope,
    resource_group: str | None = ResourceGroup,
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """Delete a lock."""
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        lock_id = _lock_id(client, name, scope, resource_group)
        response = client.request("DELETE", lock_id, api_version=API)
    if response.status_code == 204:
        note(f"Lock {name} does not exist; nothing to delete.")
    else:
        note(f"Deleted lock {name}.")
