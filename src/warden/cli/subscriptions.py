"""``warden subscription``: list, show and create subscriptions."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import typer

from warden.cli.client import CliError, Subscription, WardenClient, handle_errors
from warden.cli.common import DataDir
from warden.cli.output import Output, OutputFormat, render

API = "2022-12-01"
ALIAS_API = "2021-10-01"
COLUMNS = [
    ("Name", "displayName"),
    ("Subscription ID", "subscriptionId"),
    ("State", "state"),
    ("Tenant", "tenantId"),
]

app = typer.Typer(help="Subscriptions.", no_args_is_help=True)


@app.command("list")
@handle_errors
def list_subscriptions(data_dir: Path | None = DataDir, output: OutputFormat = Output) -> None:
    """List the subscriptions you hold a role in."""
    with WardenClient.from_data_dir(data_dir) as client:
        render(client.list("/subscriptions", API), output, COLUMNS)


@app.command("show")
@handle_errors
def show(
    subscription_id: str | None = typer.Argument(None, metavar="[ID]", help="Subscription ID (default: yours)."),
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """Show one subscription."""
    with WardenClient.from_data_dir(data_dir, subscription_id or subscription) as client:
        render(client.get(client.subscription_scope, API), output, COLUMNS)


def _alias_for(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9-]+", "-", name).strip("-").lower()[:27]
    return f"{slug or 'sub'}-{uuid.uuid4().hex[:8]}"


@app.command("create")
@handle_errors
def create(
    name: str = typer.Option(..., "--name", help="Display name (at most 64 characters)."),
    alias: str | None = typer.Option(None, "--alias", help="Alias name (default: derived from the name)."),
    workload: str = typer.Option("Production", "--workload", help="Production or DevTest."),
    data_dir: Path | None = DataDir,
    output: OutputFormat = Output,
) -> None:
    """Create a subscription through a Microsoft.Subscription alias; print the new subscription."""
    if not name.strip() or len(name) > 64:
        raise typer.BadParameter("the name must be 1 to 64 characters.", param_hint="--name")
    with WardenClient.from_data_dir(data_dir) as client:
        path = f"/providers/Microsoft.Subscription/aliases/{alias or _alias_for(name)}"
        created = client.put(path, ALIAS_API, {"properties": {"displayName": name, "workload": workload}})
        subscription_id = (created or {}).get("properties", {}).get("subscriptionId")
        if not subscription_id:
            raise CliError("the server created the alias but named no subscription.")
        render(client.get(f"/subscriptions/{subscription_id}", API), output, COLUMNS)
