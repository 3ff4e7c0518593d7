"""``warden resource``: any resource by ID, and the generic resource list."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from warden.cli.client import CliError, Subscription, WardenClient, handle_errors
from warden.cli.common import DataDir
from warden.cli.output import Output, OutputFormat, note, progress, render, resource_group_of, tags_text
from warden.kernel.ids import InvalidResourceId, parse_container, parse_resource_id

RESOURCES_API = "2021-04-01"
GROUPS_API = "2021-04-01"
SUBSCRIPTIONS_API = "2022-12-01"
COLUMNS = [
    ("Name", "name"),
    ("Type", "type"),
    ("Resource group", lambda item: resource_group_of(item.get("id"))),
    ("Location", "location"),
    ("Tags", lambda item: tags_text(item.get("tags"))),
]
SHOW_COLUMNS = [*COLUMNS, ("State", "properties.provisioningState"), ("ID", "id")]

app = typer.Typer(help="Resources of any type, by ID.", no_args_is_help=True)

ApiVersion = typer.Option(
    None, "--api-version", help="API version (default: the newest the server lists for the type).", show_default=False
)


def quote(value: str) -> str:
    """An OData string literal."""
    return "'" + value.replace("'", "''") + "'"


def api_version_for(client: WardenClient, resource_id: str) -> str:
    """The API version to use for ``resource_id``: fixed for groups and subscriptions, else the
    newest stable version the server's provider metadata lists for the type."""
    parts = [p.lower() for p in resource_id.strip("/").split("/")]
    if "providers" not in parts:
        if len(parts) == 2 and parts[0] == "subscriptions":
            return SUBSCRIPTIONS_API
        if len(parts) == 4 and parts[0] == "subscriptions" and parts[2] == "resourcegroups":
            return GROUPS_API
        raise CliError(f"'{resource_id}' is not a resource ID.", code="InvalidResourceId")
    try:
        rid = parse_resource_id(resource_id)
    except InvalidResourceId as error:
        raise CliError(error.message, code="InvalidResourceId") from None
    subscription = parse_container(rid.scope).subscription_id or client.subscription_id
    provider = client.get(f"/subscriptions/{subscription}/providers/{rid.namespace}", RESOURCES_API)
    wanted = "/".join(rid.types).lower()
    for entry in (provider or {}).get("resourceTypes", []):
        if str(entry.get("resourceType", "")).lower() == wanted and entry.get("apiVersions"):
            versions = sorted(entry["apiVersions"], reverse=True)
            stable = [v for v in versions if "preview" not in v.lower()]
            return (stable or versions)[0]
    raise CliError(
        f"the server lists no API version for '{rid.type}'; pass --api-version.", code="NoRegisteredProviderFound"
    )


def check_id(resource_id: str) -> str:
    if not resource_id.startswith("/") or resource_id.startswith("//"):
        raise typer.BadParameter(f"'{resource_id}' is not a resource ID (it must start with '/').", param_hint="ID")
    return resource_id.rstrip("/")


def parse_body(text: str) -> Any:
    """``--body``: inline JSON, or ``@path`` to read it from a file."""
    source = "--body"
    if text.startswith("@"):
        path = Path(text[1:]).expanduser()
        try:
            text = path.read_text()
        except OSError as error:
            raise typer.BadParameter(f"cannot read {path}: {error.strerror or error}.", param_hint="--body") from None
        source = str(path)
    try:
        body = json.loads(text)
    except ValueError as error:
        raise typer.BadParameter(f"{source} is not valid JSON: {error}.", param_hint="--body") from None
    if not isinstance(body, dict):
        raise typer.BadParameter(f"{source} must be a JSON object.", param_hint="--body")
    return body


@app.command("list")
@handle_errors
def list_resources(
    resource_group: str | None = typer.Option(None, "--resource-group", "-g", help="Only this resource group."),
    resource_type: str | None = typer.Option(
        None, "--resource-type", help="Only this type, e.g. Microsoft.ManagedIdentity/userAssignedIdentities."
    ),
    tag: str | None = typer.Option(None, "--tag", help="Only resources with this tag: key or key=value."),
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """List resources in the subscription or one resource group."""
    clauses = []
    if resource_type:
        clauses.append(f"resourceType eq {quote(resource_type)}")
    if tag is not None:
        name, sep, value = tag.partition("=")
        if not name.strip():
            raise typer.BadParameter(f"'{tag}' is not of the form key or key=value.", param_hint="--tag")
        clauses.append(f"tagName eq {quote(name.strip())}")
        if sep:
            clauses.append(f"tagValue eq {quote(value)}")
    params = {"$filter": " and ".join(clauses)} if clauses else None
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        scope = client.group_scope(resource_group) if resource_group else client.subscription_scope
        items = client.list(f"{scope}/resources", RESOURCES_API, params)
    render(items, output, COLUMNS)


@app.command("show")
@handle_errors
def show(
    resource_id: str = typer.Argument(..., metavar="ID", help="Resource ID."),
    api_version: str | None = ApiVersion,
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """Show any resource by its ID."""
    resource_id = check_id(resource_id)
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        version = api_version or api_version_for(client, resource_id)
        render(client.get(resource_id, version), output, SHOW_COLUMNS)


@app.command("create")
@handle_errors
def create(
    resource_id: str = typer.Argument(..., metavar="ID", help="Resource ID."),
    body: str = typer.Option(..., "--body", help="The resource as JSON, or @FILE to read it from a file."),
    api_version: str | None = ApiVersion,
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """Create or replace any resource by its ID (PUT)."""
    resource_id = check_id(resource_id)
    document = parse_body(body)
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        version = api_version or api_version_for(client, resource_id)
        response = client.request("PUT", resource_id, api_version=version, json_body=document)
        if response.status_code == 202 or "azure-asyncoperation" in response.headers:
            with progress(f"Waiting for {resource_id}..."):
                client.wait(response)
            result = client.get(resource_id, version)
        else:
            result = client.body(response)
        render(result, output, SHOW_COLUMNS)


@app.command("delete")
@handle_errors
def delete(
    resource_id: str = typer.Argument(..., metavar="ID", help="Resource ID."),
    api_version: str | None = ApiVersion,
    no_wait: bool = typer.Option(False, "--no-wait", help="Return once the deletion is accepted."),
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """Delete any resource by its ID."""
    resource_id = check_id(resource_id)
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        version = api_version or api_version_for(client, resource_id)
        response = client.request("DELETE", resource_id, api_version=version)
        if response.status_code == 204:
            note(f"{resource_id} does not exist; nothing to delete.")
            return
        if response.status_code == 202 and not no_wait:
            with progress(f"Deleting {resource_id}..."):
                response = client.wait(response)
        note(f"Deleted {resource_id}." if response.status_code != 202 else f"Deletion of {resource_id} accepted.")
        result = client.body(response)
        if result is not None and output == OutputFormat.json:
            render(result, output, SHOW_COLUMNS)
