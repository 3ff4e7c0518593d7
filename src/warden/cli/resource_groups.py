"""``warden rg``: resource groups (``az group`` in Azure's CLI; ``warden group`` is directory groups)."""

from __future__ import annotations

from pathlib import Path

import typer

from warden.cli.client import Subscription, WardenClient, handle_errors
from warden.cli.common import DataDir
from warden.cli.output import Output, OutputFormat, field, note, progress, render, tags_text

API = "2021-04-01"
COLUMNS = [
    ("Name", "name"),
    ("Location", "location"),
    ("State", "properties.provisioningState"),
    ("Tags", lambda item: tags_text(item.get("tags"))),
]

app = typer.Typer(help="Resource groups.", no_args_is_help=True)

Tag = typer.Option(None, "--tag", help="A tag as key=value; repeat for more.", show_default=False)


def parse_tags(values: list[str] | None, *, value_required: bool = True) -> dict[str, str]:
    """``["k=v", ...]`` as a dict; raise ``typer.BadParameter`` for a malformed entry."""
    tags: dict[str, str] = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not name.strip() or (value_required and not sep):
            raise typer.BadParameter(f"'{item}' is not of the form key=value.", param_hint="--tag")
        tags[name.strip()] = value
    return tags


@app.command("create")
@handle_errors
def create(
    name: str = typer.Argument(..., help="Resource group name."),
    location: str = typer.Option(..., "--location", "-l", help="Location, e.g. westeurope."),
    tag: list[str] | None = Tag,
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """Create a resource group (or update its tags if it exists in the same location)."""
    tags = parse_tags(tag)
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        body: dict[str, object] = {"location": location}
        if tags:
            body["tags"] = tags
        render(client.put(client.group_scope(name), API, body), output, COLUMNS)


@app.command("list")
@handle_errors
def list_groups(
    tag: list[str] | None = typer.Option(None, "--tag", help="Only groups with this tag (key or key=value)."),
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """List the subscription's resource groups."""
    wanted = parse_tags(tag, value_required=False)
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        groups = client.list(f"{client.subscription_scope}/resourcegroups", API)
    if wanted:
        groups = [g for g in groups if _has_tags(g.get("tags") or {}, tag or [])]
    render(groups, output, COLUMNS)


def _has_tags(tags: dict[str, str], wanted: list[str]) -> bool:
    lowered = {k.lower(): v for k, v in tags.items()}
    for item in wanted:
        name, sep, value = item.partition("=")
        if name.strip().lower() not in lowered or (sep and lowered[name.strip().lower()] != value):
            return False
    return True


@app.command("show")
@handle_errors
def show(
    name: str = typer.Argument(..., help="Resource group name."),
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """Show one resource group."""
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        render(client.get(client.group_scope(name), API), output, [*COLUMNS, ("ID", field("id"))])


@app.command("update")
@handle_errors
def update(
    name: str = typer.Argument(..., help="Resource group name."),
    tag: list[str] | None = Tag,
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """Replace a resource group's tags with the given ones."""
    if not tag:
        raise typer.BadParameter("give at least one --tag key=value.", param_hint="--tag")
    tags = parse_tags(tag)
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        render(client.patch(client.group_scope(name), API, {"tags": tags}), output, COLUMNS)


@app.command("delete")
@handle_errors
def delete(
    name: str = typer.Argument(..., help="Resource group name."),
    no_wait: bool = typer.Option(False, "--no-wait", help="Return once the deletion is accepted."),
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """Delete a resource group and everything in it."""
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        group_id = client.group_scope(name)
        response = client.request("DELETE", group_id, api_version=API)
        if response.status_code == 204:
            note(f"Resource group {name} does not exist; nothing to delete.")
            return
        if response.status_code == 202 and not no_wait:
            with progress(f"Deleting resource group {name}..."):
                response = client.wait(response)
            note(f"Deleted resource group {name}.")
        elif response.status_code == 202:
            note(f"Deletion of resource group {name} accepted; it continues on the server.")
        else:
            note(f"Deleted resource group {name}.")
        body = client.body(response)
        if body is not None and output == OutputFormat.json:
            render(body, output, COLUMNS)
