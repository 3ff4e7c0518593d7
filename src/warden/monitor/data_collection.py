"""``Microsoft.Insights/dataCollectionEndpoints`` and ``dataCollectionRules``.

A data collection rule (DCR) says which streams come in (``streamDeclarations`` for ``Custom-*``
streams, ``dataSources`` such as ``syslog`` for agent streams), where they go (``destinations``:
Log Analytics workspaces) and how (``dataFlows``: streams → destinations, an optional
``transformKql`` over the virtual table ``source``, and the ``outputStream`` naming the table).
A DCR gets an ``immutableId`` (``dcr-`` and 32 hex digits), the name the Logs Ingestion API uses.

Validation happens on write, as Azure's does: declared streams, destinations that exist (and that
the caller may read), transformations that parse, use only row-wise operators, and compile
against the stream's columns, and output tables that exist in the workspace.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest
from warden.kernel.ids import ResourceId, parse_resource_id
from warden.kernel.providers import RESOURCE_GROUP, ProviderRegistry, ResourceType
from warden.kernel.resources import GenericResourceHandler, get_row
from warden.monitor.kql import ast, parse
from warden.monitor.kql.compiler import result_schema
from warden.monitor.kql.errors import KqlError
from warden.monitor.kql.types import KustoType
from warden.monitor.tables import standard_table

from .service import WORKSPACE_TYPE
from .tables_api import parse_api_type

if TYPE_CHECKING:
    from .service import LogService

DCR_TYPE = "Microsoft.Insights/dataCollectionRules"
DCE_TYPE = "Microsoft.Insights/dataCollectionEndpoints"
API_VERSIONS = ("2023-03-11", "2022-06-01", "2021-09-01-preview", "2021-04-01")
_STREAM = re.compile(r"^Custom-[A-Za-z0-9_]{1,100}$")
# Streams agents produce, with the table each lands in.
KNOWN_STREAMS = {
    "Microsoft-Syslog": "Syslog",
    "Microsoft-Perf": "Perf",
    "Microsoft-Event": "Event",
    "Microsoft-SecurityEvent": "SecurityEvent",
    "Microsoft-CommonSecurityLog": "CommonSecurityLog",
    "Microsoft-InsightsMetrics": "InsightsMetrics",
    "Microsoft-Heartbeat": "Heartbeat",
}
# Operators a transformation may use: Azure allows row-wise processing only.
ROW_WISE = (
    ast.Where,
    ast.Extend,
    ast.Project,
    ast.ProjectAway,
    ast.ProjectRename,
    ast.ProjectKeep,
    ast.ProjectReorder,
    ast.Parse,
    ast.MvExpand,
)


class DceProperties(BaseModel):
    model_config = ConfigDict(extra="ignore")
    description: str | None = Field(default=None, max_length=1024)
    networkAcls: dict[str, Any] = Field(default_factory=lambda: {"publicNetworkAccess": "Enabled"})


class DcrProperties(BaseModel):
    model_config = ConfigDict(extra="ignore")
    description: str | None = Field(default=None, max_length=1024)
    dataCollectionEndpointId: str | None = None
    streamDeclarations: dict[str, dict[str, Any]] = Field(default_factory=dict)
    dataSources: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    destinations: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    dataFlows: list[dict[str, Any]] = Field(default_factory=list)


def _dce_on_write(ctx: RequestContext, rid: ResourceId, properties: dict[str, Any], existing: Any) -> dict[str, Any]:
    kept = existing.body["properties"] if existing is not None else {}
    endpoint = ctx.platform.settings.endpoint
    return {
        **properties,
        "immutableId": kept.get("immutableId") or f"dce-{uuid.uuid4().hex}",
        "logsIngestion": {"endpoint": endpoint},
        "configurationAccess": {"endpoint": endpoint},
    }


def output_table(flow: dict[str, Any], stream: str) -> str | None:
    """The table a data flow writes ``stream`` to: its ``outputStream`` (``Custom-T_CL`` -> ``T_CL``,
    ``Microsoft-Syslog`` -> ``Syslog``), or an agent stream's own table; None when neither names one."""
    output = flow.get("outputStream") or (stream if stream in KNOWN_STREAMS else None)
    if not isinstance(output, str) or not (output.startswith("Custom-") or output in KNOWN_STREAMS):
        return None
    return KNOWN_STREAMS.get(output) or output.removeprefix("Custom-")


def stream_columns(properties: dict[str, Any], stream: str) -> dict[str, KustoType]:
    """The declared columns of a ``Custom-*`` stream, or the table's for a ``Microsoft-*`` one."""
    if stream in KNOWN_STREAMS:
        columns = standard_table(KNOWN_STREAMS[stream]) or ()
        return {c.name: KustoType(c.type) for c in columns}
    declaration = properties.get("streamDeclarations", {}).get(stream)
    if not isinstance(declaration, dict):
        raise BadRequest(
            f"The stream '{stream}' is not declared in streamDeclarations.",
            code="InvalidDataFlow",
            target="properties.dataFlows",
        )
    columns = declaration.get("columns")
    where = f"properties.streamDeclarations.{stream}.columns"
    if not isinstance(columns, list) or not columns:
        raise BadRequest(f"'{where}' must be a non-empty array.", code="InvalidStreamDeclaration", target=where)
    result: dict[str, KustoType] = {}
    for i, column in enumerate(columns):
        if not isinstance(column, dict) or not isinstance(column.get("name"), str) or not column["name"]:
            raise BadRequest(f"'{where}[{i}]' needs a name and a type.", code="InvalidStreamDeclaration", target=where)
        if column["name"].lower() in (name.lower() for name in result):
            raise BadRequest(
                f"The column '{column['name']}' is declared twice.", code="InvalidStreamDeclaration", target=where
            )
        result[column["name"]] = parse_api_type(column.get("type"), f"{where}[{i}].type")
    return result


def check_transform(text: str, columns: dict[str, KustoType], where: str) -> dict[str, KustoType]:
    """Validate a transformation and return its output columns; raise BadRequest naming the problem."""
    try:
        query = parse(text)
    except KqlError as error:
        raise BadRequest(f"The transformKql is invalid: {error}", code="InvalidTransformQuery", target=where) from None
    if len(query.statements) != 1 or not isinstance(query.statements[0], ast.Pipeline):
        raise BadRequest("A transformation is one pipeline over 'source'.", code="InvalidTransformQuery", target=where)
    pipeline = query.statements[0]
    if not isinstance(pipeline.source, ast.TableRef) or pipeline.source.name != "source":
        raise BadRequest("A transformation must start with 'source'.", code="InvalidTransformQuery", target=where)
    for operator in pipeline.operators:
        if not isinstance(operator, ROW_WISE):
            raise BadRequest(
                f"The transformation uses '{type(operator).__name__}', which is not row-wise; transformations "
                "may use where, extend, project, project-away, project-rename, project-keep, project-reorder, "
                "parse and mv-expand.",
                code="InvalidTransformQuery",
                target=where,
            )
    try:
        return result_schema(text, {"source": columns}, query=query)
    except KqlError as error:
        raise BadRequest(f"The transformKql is invalid: {error}", code="InvalidTransformQuery", target=where) from None


def validate_flows(ctx: RequestContext, service: LogService, properties: dict[str, Any]) -> None:
    """Check a DCR's data flows against its streams, destinations and output tables; raise BadRequest."""
    assert ctx.conn is not None
    destinations: dict[str, str] = {}
    for i, destination in enumerate(properties.get("destinations", {}).get("logAnalytics", []) or []):
        where = f"properties.destinations.logAnalytics[{i}]"
        if not isinstance(destination, dict) or not isinstance(destination.get("name"), str):
            raise BadRequest(f"'{where}' needs a name.", code="InvalidDestination", target=where)
        workspace_id = destination.get("workspaceResourceId")
        row = None
        if isinstance(workspace_id, str):
            try:
                rid = parse_resource_id(workspace_id)
            except ValueError:
                rid = None
            if rid is not None and rid.type.lower() == WORKSPACE_TYPE.lower():
                row = get_row(ctx.conn, ctx.tenant_id, workspace_id)
        if row is None or not ctx.can(f"{WORKSPACE_TYPE}/read", row.id):
            raise BadRequest(
                f"The workspace '{workspace_id}' of destination '{destination['name']}' was not found.",
                code="InvalidDestination",
                target=f"{where}.workspaceResourceId",
            )
        destinations[destination["name"]] = row.body["properties"]["customerId"]
    for i, flow in enumerate(properties.get("dataFlows", [])):
        where = f"properties.dataFlows[{i}]"
        streams = flow.get("streams") if isinstance(flow, dict) else None
        targets = flow.get("destinations") if isinstance(flow, dict) else None
        if not isinstance(streams, list) or not streams or not all(isinstance(s, str) for s in streams):
            raise BadRequest(f"'{where}.streams' must list streams.", code="InvalidDataFlow", target=where)
        if not isinstance(targets, list) or not targets or any(t not in destinations for t in targets):
            raise BadRequest(
                f"'{where}.destinations' must name destinations of this rule.", code="InvalidDataFlow", target=where
            )
        for stream in streams:
            if stream not in KNOWN_STREAMS and not _STREAM.match(stream):
                raise BadRequest(f"Unknown stream '{stream}'.", code="InvalidDataFlow", target=f"{where}.streams")
        transform = flow.get("transformKql") or "source"
        if not isinstance(transform, str):
            raise BadRequest("'transformKql' must be a string.", code="InvalidTransformQuery", target=where)
        for stream in streams:
            table = output_table(flow, stream)
            if table is None:
                raise BadRequest(
                    f"'{where}.outputStream' must name a table ('Custom-MyTable_CL' or a Microsoft-* stream).",
                    code="InvalidOutputTable",
                    target=f"{where}.outputStream",
                )
            output_columns = check_transform(transform, stream_columns(properties, stream), f"{where}.transformKql")
            for target in targets:
                _check_output(service, destinations[target], table, output_columns, f"{where}.outputStream")


def _check_output(service: LogService, customer_id: str, table: str, columns: dict[str, KustoType], where: str) -> None:
    tables = service.store.tables(customer_id)
    target = tables.get(table)
    if target is None:
        raise BadRequest(
            f"The output table '{table}' does not exist in the destination workspace; create it first.",
            code="InvalidOutputTable",
            target=where,
        )
    unknown = [name for name in columns if name not in target]
    if unknown:
        raise BadRequest(
            f"The transformation outputs column(s) {', '.join(unknown)} that table '{table}' does not have.",
            code="InvalidTransformOutput",
            target=where,
        )
    if "TimeGenerated" not in columns:
        raise BadRequest(
            f"The transformation output for '{table}' needs a TimeGenerated column.",
            code="InvalidTransformOutput",
            target=where,
        )


def _dcr_on_write(service: LogService):  # type: ignore[no-untyped-def]
    def hook(ctx: RequestContext, rid: ResourceId, properties: dict[str, Any], existing: Any) -> dict[str, Any]:
        kept = existing.body["properties"] if existing is not None else {}
        for stream in properties.get("streamDeclarations", {}):
            if not _STREAM.match(stream):
                raise BadRequest(
                    f"Declared stream names start with 'Custom-': '{stream}'.",
                    code="InvalidStreamDeclaration",
                    target="properties.streamDeclarations",
                )
            stream_columns(properties, stream)
        validate_flows(ctx, service, properties)
        endpoint_id = properties.get("dataCollectionEndpointId")
        if endpoint_id is not None and (ctx.conn is None or get_row(ctx.conn, ctx.tenant_id, endpoint_id) is None):
            raise BadRequest(
                f"The data collection endpoint '{endpoint_id}' was not found.",
                code="InvalidDataCollectionEndpoint",
                target="properties.dataCollectionEndpointId",
            )
        destinations = properties.get("destinations", {})
        for destination in destinations.get("logAnalytics", []) or []:
            row = get_row(ctx.conn, ctx.tenant_id, destination["workspaceResourceId"])
            destination["workspaceId"] = row.body["properties"]["customerId"]
        return {
            **properties,
            "immutableId": kept.get("immutableId") or f"dcr-{uuid.uuid4().hex}",
            "endpoints": {"logsIngestion": ctx.platform.settings.endpoint},
        }

    return hook


def register(registry: ProviderRegistry, service: LogService) -> None:
    registry.register(
        ResourceType(
            "Microsoft.Insights",
            ("dataCollectionEndpoints",),
            GenericResourceHandler(DCE_TYPE, DceProperties, on_write=_dce_on_write),
            placements=frozenset({RESOURCE_GROUP}),
            display_name="data collection endpoint",
            api_versions=API_VERSIONS,
        )
    )
    registry.register(
        ResourceType(
            "Microsoft.Insights",
            ("dataCollectionRules",),
            GenericResourceHandler(DCR_TYPE, DcrProperties, on_write=_dcr_on_write(service)),
            placements=frozenset({RESOURCE_GROUP}),
            display_name="data collection rule",
            api_versions=API_VERSIONS,
        )
    )
