"""``warden dcr``: data collection rules (``Microsoft.Insights/dataCollectionRules``).

A rule built here declares one ``Custom-*`` stream, sends it to one Log Analytics workspace and
writes it to one table, optionally through a ``transformKql``. The Logs Ingestion API takes rows
for the stream at ``/dataCollectionRules/{immutableId}/streams/{stream}``.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

import typer

from warden.cli.client import ApiError, CliError, Subscription, WardenClient, error_from_response, handle_errors
from warden.cli.common import DataDir
from warden.cli.output import Output, OutputFormat, render, resource_group_of
from warden.cli.workspaces import resolve_workspace

API = "2022-06-01"
ROLES_API = "2022-04-01"
TABLES_API = "2022-10-01"
# Monitoring Metrics Publisher: the built-in role granting Microsoft.Insights/Telemetry/Write.
METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"
# Columns the platform sets on every record: a rule made for a table does not declare them.
PLATFORM_COLUMNS = {"TenantId", "Type", "_ResourceId", "_SubscriptionId", "_BilledSize", "_IsBillable"}
MAX_NAME = 64
DCR_TYPE = "Microsoft.Insights/dataCollectionRules"
DESTINATION = "workspace"
# Column types as the Tables API and stream declarations spell them (lower-case aliases accepted).
COLUMN_TYPES = {
    "string": "string",
    "int": "int",
    "long": "long",
    "real": "real",
    "boolean": "boolean",
    "bool": "boolean",
    "datetime": "datetime",
    "guid": "guid",
    "dynamic": "dynamic",
}


def _streams(item: dict[str, Any]) -> str:
    return ", ".join(item.get("properties", {}).get("streamDeclarations", {}))


def _flows(item: dict[str, Any], key: str) -> str:
    return "; ".join(str(flow.get(key) or "") for flow in item.get("properties", {}).get("dataFlows", []))


def _workspaces(item: dict[str, Any]) -> str:
    destinations = item.get("properties", {}).get("destinations", {}).get("logAnalytics", [])
    return ", ".join(str(d.get("workspaceResourceId", "")).rsplit("/", 1)[-1] for d in destinations)


COLUMNS = [
    ("Name", "name"),
    ("Resource group", lambda item: resource_group_of(item.get("id"))),
    ("Location", "location"),
    ("Immutable ID", "properties.immutableId"),
    ("Streams", _streams),
    ("Workspaces", _workspaces),
    ("Output", lambda item: _flows(item, "outputStream")),
    ("Transform", lambda item: _flows(item, "transformKql")),
    ("Ingestion endpoint", "properties.endpoints.logsIngestion"),
    ("State", "properties.provisioningState"),
    ("ID", "id"),
]

app = typer.Typer(
    help="Data collection rules (what the Logs Ingestion API accepts and where it goes).", no_args_is_help=True
)


def rule_path(client: WardenClient, resource_group: str, name: str) -> str:
    """The ARM ID of rule ``name`` in ``resource_group`` of the client's subscription."""
    return f"{client.group_scope(resource_group)}/providers/{DCR_TYPE}/{name}"


def parse_column(spec: str) -> dict[str, str]:
    """``name:type`` as a stream column ``{"name", "type"}``; raise ``typer.BadParameter`` if malformed."""
    name, sep, kind = spec.partition(":")
    kind = COLUMN_TYPES.get(kind.strip().lower(), "")
    if not sep or not name.strip() or not kind:
        raise typer.BadParameter(
            f"'{spec}' is not NAME:TYPE with TYPE one of {', '.join(sorted(set(COLUMN_TYPES.values())))}.",
            param_hint="--column",
        )
    return {"name": name.strip(), "type": kind}


def output_stream(table: str) -> str:
    """The ``outputStream`` naming ``table``: ``Custom-T_CL`` for a custom table, ``Microsoft-T`` else."""
    return f"Custom-{table}" if table.endswith("_CL") else f"Microsoft-{table}"


def rule_body(
    *,
    location: str,
    workspace_id: str,
    stream: str,
    columns: list[dict[str, str]],
    table: str,
    transform: str | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """The body of a rule taking ``stream`` (with ``columns``) into ``table`` of one workspace."""
    flow: dict[str, Any] = {"streams": [stream], "destinations": [DESTINATION], "outputStream": output_stream(table)}
    if transform:
        flow["transformKql"] = transform
    properties: dict[str, Any] = {
        "streamDeclarations": {stream: {"columns": columns}},
        "destinations": {"logAnalytics": [{"workspaceResourceId": workspace_id, "name": DESTINATION}]},
        "dataFlows": [flow],
    }
    if description:
        properties["description"] = description
    return {"location": location, "properties": properties}


@app.command("create")
@handle_errors
def create(
    name: str = typer.Argument(..., help="Rule name."),
    resource_group: str = typer.Option(..., "--resource-group", "-g", help="Resource group of the rule."),
    workspace: str = typer.Option(
        ..., "--workspace", "-w", help="Destination workspace: name, resource ID or customerId."
    ),
    stream: str = typer.Option(..., "--stream", help="The incoming stream, e.g. Custom-MyApp."),
    column: list[str] = typer.Option(..., "--column", help="A stream column as NAME:TYPE; repeat for each."),
    transform: str | None = typer.Option(
        None, "--transform", help="transformKql over 'source', e.g. \"source | extend TimeGenerated = now()\"."
    ),
    output_table: str | None = typer.Option(
        None, "--output-table", help="Destination table (default: the stream's name without 'Custom-', with _CL)."
    ),
    location: str | None = typer.Option(None, "--location", "-l", help="Location (default: the workspace's)."),
    description: str | None = typer.Option(None, "--description", help="Description of the rule."),
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """Create or replace a data collection rule sending one custom stream to a workspace table.

    The table must exist (custom tables are created with a PUT of workspaces/tables), and the
    transformation's output must fit its columns; the server checks both.
    """
    if not stream.startswith("Custom-"):
        raise typer.BadParameter("a declared stream's name starts with 'Custom-'.", param_hint="--stream")
    columns = [parse_column(spec) for spec in column]
    table = output_table or stream.removeprefix("Custom-")
    if output_table is None and not table.endswith("_CL"):
        table += "_CL"
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        target = resolve_workspace(client, workspace)
        body = rule_body(
            location=location or target["location"],
            workspace_id=target["id"],
            stream=stream,
            columns=columns,
            table=table,
            transform=transform,
            description=description,
        )
        render(client.put(rule_path(client, resource_group, name), API, body), output, COLUMNS)


@app.command("show")
@handle_errors
def show(
    name: str = typer.Argument(..., help="Rule name."),
    resource_group: str = typer.Option(..., "--resource-group", "-g", help="Resource group of the rule."),
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """Show a data collection rule, with the immutableId the Logs Ingestion API names it by."""
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        render(client.get(rule_path(client, resource_group, name), API), output, COLUMNS)


# --- the rules 'warden logs ingest' manages ------------------------------------------------------


def ingestion_rule_name(workspace: str, table: str) -> str:
    """``warden-cli-{workspace}-{table}``, shortened with a hash when over Azure's 64 characters."""
    name = f"warden-cli-{workspace}-{table}"
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(name.lower().encode()).hexdigest()[:8]
    return f"{name[: MAX_NAME - 9]}-{digest}"


def table_columns(table: dict[str, Any]) -> list[dict[str, str]]:
    """The columns a client may send for ``table`` (a workspaces/tables resource): its own
    columns and TimeGenerated, not the ones the platform sets."""
    schema = table.get("properties", {}).get("schema", {})
    columns = [*schema.get("standardColumns", []), *schema.get("columns", [])]
    return [
        {"name": c["name"], "type": str(c["type"])}
        for c in columns
        if isinstance(c, dict) and c.get("name") and c["name"] not in PLATFORM_COLUMNS
    ]


def _shape(body: dict[str, Any]) -> Any:
    """What makes two rules equivalent for ingestion: streams, their columns, destinations and flows."""
    properties = body.get("properties", {})
    streams = {
        name: [(c.get("name"), str(c.get("type", "")).lower()) for c in declaration.get("columns", [])]
        for name, declaration in properties.get("streamDeclarations", {}).items()
    }
    destinations = sorted(
        (d.get("name"), str(d.get("workspaceResourceId", "")).lower())
        for d in properties.get("destinations", {}).get("logAnalytics", [])
    )
    flows = [
        (tuple(f.get("streams", [])), tuple(f.get("destinations", [])), f.get("outputStream"), f.get("transformKql"))
        for f in properties.get("dataFlows", [])
    ]
    return streams, destinations, flows


def ensure_ingestion_rule(client: WardenClient, workspace: dict[str, Any], table: str) -> tuple[dict[str, Any], str]:
    """Find or create the rule that takes rows for ``table`` of ``workspace`` (a workspace resource):
    in the workspace's resource group, one stream ``Custom-{table}`` declaring the table's columns,
    no transformation. A rule of that name that no longer matches the table (columns were added)
    is updated in place, keeping its immutableId.

    Returns the rule and its stream name. Raises ``CliError`` if the table does not exist.
    """
    table_response = client.request("GET", f"{workspace['id']}/tables/{table}", api_version=TABLES_API, ok=(404,))
    if table_response.status_code == 404:
        raise CliError(
            f"the workspace {workspace['name']} has no table '{table}'. Create a custom table with a PUT of "
            f"{workspace['id']}/tables/{table} (properties.schema.columns), e.g. with 'warden resource create'.",
            code="TableNotFound",
        )
    table_resource = client.body(table_response)
    stored = table_resource["name"]  # the table's own spelling
    stream = f"Custom-{stored}"
    desired = rule_body(
        location=workspace["location"],
        workspace_id=workspace["id"],
        stream=stream,
        columns=table_columns(table_resource),
        table=stored,
        description=f"Created by 'warden logs ingest' for table {stored}; it is rewritten when the table changes.",
    )
    group = workspace["id"].split("/providers/", 1)[0]
    rule_id = f"{group}/providers/{DCR_TYPE}/{ingestion_rule_name(workspace['name'], stored)}"
    response = client.request("GET", rule_id, api_version=API, ok=(404,))
    if response.status_code == 200:
        existing = client.body(response)
        if _shape(existing) == _shape(desired):
            return existing, stream
    try:
        return client.put(rule_id, API, desired), stream
    except ApiError as error:
        if error.code == "InvalidOutputTable" and not stored.endswith("_CL"):
            raise CliError(
                f"the server does not take rows for the standard table {stored} through a data collection rule: "
                f"{error.message}",
                code=error.code,
            ) from None
        raise


def principal_object_id(client: WardenClient, app_id: str) -> str:
    """The object ID of the service principal of application ``app_id``; raise ``CliError`` if none."""
    found = client.list("/v1.0/servicePrincipals", params={"$filter": f"appId eq '{app_id}'"})
    if not found:
        raise CliError(f"no service principal has the application ID {app_id}.")
    return str(found[0]["id"])


def _covers(scope: str, resource_id: str) -> bool:
    scope, resource_id = scope.rstrip("/").lower(), resource_id.lower()
    return scope == "" or resource_id == scope or resource_id.startswith(scope + "/")


def ensure_publisher(client: WardenClient, rule_id: str, object_id: str) -> bool:
    """Grant ``object_id`` Monitoring Metrics Publisher on the rule unless an assignment at or
    above the rule already gives it. Returns True when it created an assignment now."""
    assignments = client.list(
        f"{rule_id}/providers/Microsoft.Authorization/roleAssignments",
        ROLES_API,
        {"$filter": f"assignedTo('{object_id}')"},
    )
    for item in assignments:
        properties = item.get("properties", {})
        role = str(properties.get("roleDefinitionId", "")).rsplit("/", 1)[-1].lower()
        if role == METRICS_PUBLISHER and _covers(str(properties.get("scope", "")), rule_id):
            return False
    # A name derived from rule, principal and role: running twice PUTs the same assignment.
    name = uuid.uuid5(uuid.NAMESPACE_URL, f"{rule_id.lower()}|{object_id.lower()}|{METRICS_PUBLISHER}")
    response = client.request(
        "PUT",
        f"{rule_id}/providers/Microsoft.Authorization/roleAssignments/{name}",
        api_version=ROLES_API,
        json_body={
            "properties": {
                "roleDefinitionId": f"/providers/Microsoft.Authorization/roleDefinitions/{METRICS_PUBLISHER}",
                "principalId": object_id,
                "principalType": "ServicePrincipal",
            }
        },
        ok=(409,),
    )
    if response.status_code == 409:
        error = error_from_response(response)
        # Someone assigned the same role under another name meanwhile: that is as good.
        if error.code != "RoleAssignmentExists":
            raise error
        return False
    return response.status_code == 201
