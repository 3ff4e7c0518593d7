"""``warden logs``: query a Log Analytics workspace, list its tables, ingest JSON lines into one.

``query`` and ``ingest`` talk to the data-plane APIs with tokens for their own audiences
(``https://api.loganalytics.io`` and ``https://monitor.azure.com``), as Azure's clients do; the
ARM calls (workspace lookup, tables, rules, role assignments) use the ARM token.
"""

from __future__ import annotations

import csv
import json
import sys
import time
import uuid
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from warden.cli.client import ApiError, CliError, Subscription, WardenClient, error_from_response, handle_errors
from warden.cli.common import DataDir
from warden.cli.dcr import ensure_ingestion_rule, ensure_publisher, principal_object_id
from warden.cli.logs_ingest import Uploader, read_batches
from warden.cli.output import Output, OutputFormat, note, render, stderr
from warden.cli.workspaces import API as WORKSPACE_API
from warden.cli.workspaces import resolve_workspace

QUERY_SCOPE = "https://api.loganalytics.io/.default"
QUERY_WAIT = 180  # seconds; the query API's default timeout
NUMERIC = ("int", "long", "real", "decimal")

app = typer.Typer(help="Log Analytics: query workspaces, list their tables, ingest logs.", no_args_is_help=True)

WorkspaceOption = typer.Option(..., "--workspace", "-w", help="Workspace: name, resource ID or customerId.")
GroupOption = typer.Option(
    None, "--resource-group", "-g", help="Resource group of the workspace (when its name is not unique)."
)


class QueryFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class DataPlaneClient(WardenClient):
    """A ``WardenClient`` that also gets tokens for the data-plane audiences."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._scoped: dict[str, tuple[str, float]] = {}

    @property
    def app_id(self) -> str:
        """The application (client) ID of the data dir's bootstrap principal."""
        return self._client_id

    def scoped_token(self, scope: str, *, refresh: bool = False) -> str:
        """A bearer token for ``scope`` (kept in memory only); raise ``ApiError`` if refused."""
        cached = self._scoped.get(scope)
        if cached and not refresh and time.monotonic() < cached[1]:
            return cached[0]
        response = self._http.post(
            f"/{self.tenant_id}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self._client_id,
                "client_secret": self._secret,
                "scope": scope,
            },
        )
        if response.status_code != 200:
            error = error_from_response(response)
            raise ApiError(f"could not get a token for {scope}: {error.message}", code=error.code, status=error.status)
        try:
            body = response.json()
            token, lifetime = body["access_token"], float(body.get("expires_in", 300))
        except (ValueError, KeyError, TypeError):
            raise CliError("the token endpoint answered without an access token.") from None
        # Renew a minute early so a long upload never sends a token that expires in flight.
        self._scoped[scope] = (token, time.monotonic() + max(lifetime - 60, 10))
        return token

    def data_request(
        self,
        method: str,
        path: str,
        scope: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        """Send one data-plane request to the server's own origin; return the response whatever
        its status (the caller decides), after one retry with a fresh token on 401."""
        self._check_origin(path)
        kwargs: dict[str, Any] = {"params": params, "json": json_body, "content": content}
        if timeout is not None:
            kwargs["timeout"] = timeout
        for refresh in (False, True):
            sent = {**(headers or {}), "Authorization": f"Bearer {self.scoped_token(scope, refresh=refresh)}"}
            response = self._http.request(method, path, headers=sent, **kwargs)
            if response.status_code != 401:
                break
        return response


def _client(data_dir: Path | None, subscription: str | None) -> DataPlaneClient:
    client = DataPlaneClient.from_data_dir(data_dir, subscription)
    assert isinstance(client, DataPlaneClient)
    return client


def _is_guid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return len(text) == 36


# --- query ---------------------------------------------------------------------------------------


def _query_error(response: httpx.Response) -> CliError:
    """The query API's error, with the KQL error's own message and position when it has one."""
    try:
        error = response.json().get("error", {})
    except (ValueError, AttributeError):
        error = {}
    inner = error.get("innererror") if isinstance(error, dict) else None
    if isinstance(inner, dict) and inner.get("message"):
        where = ""
        if inner.get("line") is not None:
            where = f" (line {inner['line']}" + (f", position {inner['pos']})" if inner.get("pos") is not None else ")")
        return ApiError(f"{inner['message']}{where}", code=str(inner.get("code") or error.get("code")))
    return error_from_response(response)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def print_result(body: dict[str, Any], output: QueryFormat) -> None:
    """Print a query API response body as JSON (unchanged), CSV (first table) or aligned tables."""
    if output is QueryFormat.json:
        sys.stdout.write(json.dumps(body, ensure_ascii=False, indent=2) + "\n")
        return
    tables = body.get("tables") or []
    if output is QueryFormat.csv:
        table = tables[0] if tables else {"columns": [], "rows": []}
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow([c.get("name") for c in table.get("columns", [])])
        writer.writerows([_text(v) for v in row] for row in table.get("rows", []))
        return
    console = Console(soft_wrap=True, highlight=False)
    for table in tables:
        grid = Table(
            title=table.get("name") if len(tables) > 1 else None, show_edge=False, pad_edge=False, header_style="bold"
        )
        for column in table.get("columns", []):
            grid.add_column(str(column.get("name")), justify="right" if column.get("type") in NUMERIC else "left")
        for row in table.get("rows", []):
            grid.add_row(*(_text(v) for v in row))
        console.print(grid)
        stderr.print(f"{len(table.get('rows', []))} row(s)", style="dim")


@app.command("query")
@handle_errors
def query(
    kql: str = typer.Argument(..., metavar="KQL", help="The KQL query (use '-' to read it from stdin)."),
    workspace: str = WorkspaceOption,
    timespan: str | None = typer.Option(
        None, "--timespan", help="ISO 8601 duration (P1D, PT1H) or start/end interval, applied on top of the query."
    ),
    resource_group: str | None = GroupOption,
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: QueryFormat = typer.Option(
        QueryFormat.table, "--output", "-o", help="Output format.", case_sensitive=False, show_default=True
    ),
) -> None:
    """Run a KQL query against a workspace through the query API.

    JSON output is the query API's response body. A partial result (the row cap was hit) is
    printed and its error is reported on stderr.
    """
    text = sys.stdin.read() if kql == "-" else kql
    body: dict[str, Any] = {"query": text}
    if timespan:
        body["timespan"] = timespan
    with _client(data_dir, subscription) as client:
        # The query API names a workspace by its customerId: a GUID needs no lookup.
        customer_id = workspace
        if not _is_guid(workspace.strip()):
            customer_id = resolve_workspace(client, workspace, resource_group)["properties"]["customerId"]
        response = client.data_request(
            "POST",
            f"/v1/workspaces/{customer_id.strip()}/query",
            QUERY_SCOPE,
            json_body=body,
            headers={"Prefer": f"wait={QUERY_WAIT}"},
            timeout=QUERY_WAIT + 15,
        )
    if response.status_code != 200:
        raise _query_error(response)
    result = WardenClient.body(response) or {}
    print_result(result, output)
    if isinstance(result.get("error"), dict):
        details = "; ".join(str(d.get("message")) for d in result["error"].get("details", []) if isinstance(d, dict))
        note(f"Warning: partial result: {result['error'].get('message', '')} {details}".rstrip())


# --- tables --------------------------------------------------------------------------------------


def _column_count(item: dict[str, Any]) -> int:
    schema = item.get("properties", {}).get("schema", {})
    return len(schema.get("columns", [])) + len(schema.get("standardColumns", []))


TABLE_COLUMNS = [
    ("Name", "name"),
    ("Type", "properties.schema.tableType"),
    ("Plan", "properties.plan"),
    ("Columns", _column_count),
    ("Retention (days)", "properties.retentionInDays"),
    ("Total retention (days)", "properties.totalRetentionInDays"),
]


@app.command("tables")
@handle_errors
def tables(
    workspace: str = WorkspaceOption,
    resource_group: str | None = GroupOption,
    custom: bool = typer.Option(False, "--custom", help="Only custom (_CL) tables."),
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """List a workspace's tables with their type, plan, column count and retention."""
    with _client(data_dir, subscription) as client:
        target = resolve_workspace(client, workspace, resource_group)
        items = client.list(f"{target['id']}/tables", WORKSPACE_API)
    if custom:
        items = [t for t in items if t.get("properties", {}).get("schema", {}).get("tableType") == "CustomLog"]
    render(items, output, TABLE_COLUMNS)


# --- ingest --------------------------------------------------------------------------------------

INGEST_HELP = "\n\n".join(
    [
        "Ingest a JSON-lines file (one JSON object per line) into a workspace table.",
        "How: the Logs Ingestion API takes rows only through a data collection rule (DCR), and only from a caller "
        "holding Microsoft.Insights/Telemetry/Write on that rule. So this command:",
        "1. finds or creates the DCR 'warden-cli-{workspace}-{table}' in the workspace's resource group, declaring "
        "one stream 'Custom-{table}' with the table's columns and a flow into the table (no transformation); a rule "
        "of that name that no longer matches the table is updated, keeping its immutableId (the rule is the "
        "command's own: edits made to it by hand are replaced);",
        "2. grants the data dir's principal Monitoring Metrics Publisher on that rule, unless an assignment at or "
        "above the rule already does;",
        "3. uploads the lines in gzip requests of at most 1 MiB of JSON each, waiting out 429/503 answers as "
        "Retry-After says.",
        "Nothing is dropped silently: a line that is not a JSON object, and a record the server rejects (it names "
        "the record; the rest of that request is sent again without it), are reported with their line numbers, and "
        "the command then exits 1. Fields that are not columns of the table are dropped by the API, as Azure drops "
        "them; they are listed. Blank lines are skipped. If the server stops answering, the lines whose request was "
        "not confirmed are named.",
    ]
)


@app.command("ingest", help=INGEST_HELP)
@handle_errors
def ingest(
    file: Path = typer.Argument(..., metavar="FILE.jsonl", help="JSON lines to ingest.", exists=True, dir_okay=False),
    workspace: str = WorkspaceOption,
    table: str = typer.Option(..., "--table", "-t", help="Destination table, e.g. MyApp_CL."),
    resource_group: str | None = GroupOption,
    max_errors: int = typer.Option(100, "--max-errors", help="Stop after more than this many rejected lines.", min=0),
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    with _client(data_dir, subscription) as client:
        target = resolve_workspace(client, workspace, resource_group)
        rule, stream = ensure_ingestion_rule(client, target, table)
        granted = ensure_publisher(client, rule["id"], principal_object_id(client, client.app_id))
        if granted:
            note(f"Granted Monitoring Metrics Publisher on {rule['name']} to the data dir's principal.")
        uploader = Uploader(client, rule["properties"]["immutableId"], stream, patient=granted)
        columns = {c["name"] for c in rule["properties"]["streamDeclarations"][stream]["columns"]}
        summary = uploader.run(read_batches(file, columns), file.stat().st_size, max_errors)
    stored = stream.removeprefix("Custom-")  # the table's own spelling
    summary = {"workspace": target["name"], "table": stored, "rule": rule["id"], **summary}
    _report(summary, file, output)
    if summary["rejected"] or summary["unconfirmed"] or summary["stopped"]:
        raise typer.Exit(1)


def _report(summary: dict[str, Any], file: Path, output: OutputFormat) -> None:
    if output == OutputFormat.json:
        render(summary, output, [])
    else:
        rows, requests = summary["rows"], summary["requests"]
        note(f"Ingested {rows} row(s) from {file} into {summary['table']} in {requests} request(s).")
    shown = summary["rejected"][:20]
    for item in shown:
        note(f"line {item['line']}: {item['error']}")
    if len(summary["rejected"]) > len(shown):
        note(f"... and {len(summary['rejected']) - len(shown)} more rejected line(s).")
    if summary["rejected"]:
        note(f"{len(summary['rejected'])} line(s) were not ingested.")
    if summary["unconfirmed"]:
        note(f"Not confirmed by the server (they may or may not be stored): {summary['unconfirmed']}.")
    if summary["stopped"]:
        note(f"Stopped: {summary['stopped']}")
    if summary["droppedFields"]:
        fields = ", ".join(f"{name} ({count} line(s))" for name, count in summary["droppedFields"].items())
        note(f"Fields that are not columns of {summary['table']} were dropped: {fields}.")
