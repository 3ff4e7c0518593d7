"""``Microsoft.OperationalInsights/workspaces/tables``: a workspace's tables as ARM resources.

Every table in the workspace's log store is listed: the standard tables (``tableType``
``Microsoft``, schema fixed, retention and plan settable) and custom ``_CL`` tables created by
PUT with their columns (``CustomLog``; adding columns later is allowed, changing a column's type
or deleting one is not, as in Azure). Settings are kept as resource rows; the schema comes from
the store, so it also shows columns the Data Collector API added.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest, NotFound
from warden.kernel.ids import ResourceId
from warden.kernel.reply import Reply
from warden.kernel.resources import (
    check_preconditions,
    delete_tree,
    get_row,
    require_object,
    resource_json,
    save_resource,
)
from warden.monitor.kql.types import KustoType
from warden.monitor.logstore import LogStoreError
from warden.monitor.tables import STANDARD_COLUMNS, standard_table

from .service import WORKSPACE_TYPE

if TYPE_CHECKING:
    from .service import LogService

TABLE_TYPE = f"{WORKSPACE_TYPE}/tables"
PLANS = ("Analytics", "Basic", "Auxiliary")
# The type names of the Tables API (they differ from Kusto's in two places).
_API_TYPES = {
    "string": KustoType.STRING,
    "int": KustoType.INT,
    "long": KustoType.LONG,
    "real": KustoType.REAL,
    "boolean": KustoType.BOOL,
    "bool": KustoType.BOOL,
    "datetime": KustoType.DATETIME,
    "guid": KustoType.GUID,
    "dynamic": KustoType.DYNAMIC,
}
_TO_API = {KustoType.BOOL: "boolean", KustoType.DATETIME: "dateTime", KustoType.TIMESPAN: "string"}
_CUSTOM_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,59}_CL$")
_COLUMN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,44}$")
_STANDARD_NAMES = {column.name for column in STANDARD_COLUMNS}


def api_type(kusto_type: KustoType) -> str:
    return _TO_API.get(kusto_type, str(kusto_type))


def parse_api_type(value: Any, where: str) -> KustoType:
    """A column type as the Tables API and DCR stream declarations spell it, as a Kusto type."""
    found = _API_TYPES.get(str(value).lower()) if isinstance(value, str) else None
    if found is None:
        raise BadRequest(
            f"Invalid column type '{value}' at '{where}'; expected one of string, int, long, real, boolean, "
            "dateTime, guid, dynamic.",
            code="InvalidParameter",
            target=where,
        )
    return found


class TablesHandler:
    def __init__(self, service: LogService) -> None:
        self.service = service

    # ------------------------------------------------------------------------------ helpers

    def _workspace(self, ctx: RequestContext, rid: ResourceId) -> Any:
        assert ctx.conn is not None
        row = get_row(ctx.conn, ctx.tenant_id, rid.parent)
        if row is None:
            raise NotFound(f"The workspace '{rid.parent}' was not found.", code="ResourceNotFound")
        return row

    def _json(self, workspace: Any, name: str, columns: dict[str, KustoType], row: Any) -> dict[str, Any]:
        workspace_retention = workspace.body["properties"].get("retentionInDays", 30)
        settings = row.body.get("properties", {}) if row is not None else {}
        retention = settings.get("retentionInDays", -1)
        total = settings.get("totalRetentionInDays", -1)
        effective = workspace_retention if retention in (None, -1) else retention
        custom = standard_table(name) is None
        own = [{"name": c, "type": api_type(t)} for c, t in columns.items() if c not in _STANDARD_NAMES]
        standard = [{"name": c, "type": api_type(t)} for c, t in columns.items() if c in _STANDARD_NAMES]
        properties = {
            "retentionInDays": effective,
            "totalRetentionInDays": effective if total in (None, -1) else total,
            "archiveRetentionInDays": max(0, (effective if total in (None, -1) else total) - effective),
            "retentionInDaysAsDefault": retention in (None, -1),
            "totalRetentionInDaysAsDefault": total in (None, -1),
            "plan": settings.get("plan", "Analytics"),
            "schema": {
                "name": name,
                "tableType": "CustomLog" if custom else "Microsoft",
                "tableSubType": "Any" if custom else "Classic",
                "columns": own if custom else [],
                "standardColumns": standard if custom else standard + own,
                "description": settings.get("description", ""),
            },
            "provisioningState": "Succeeded",
        }
        base = resource_json(row) if row is not None else {}
        return {
            "id": f"{workspace.id}/tables/{name}",
            "name": name,
            "type": TABLE_TYPE,
            "properties": properties,
            **({"systemData": base["systemData"]} if base else {}),
        }

    def _stored_name(self, workspace: Any, name: str) -> str:
        """The table's name as stored (requests may spell it in another case)."""
        tables = self.service.store.tables(workspace.body["properties"]["customerId"])
        return next((table for table in tables if table.lower() == name.lower()), name)

    def _columns(self, workspace: Any, name: str) -> dict[str, KustoType] | None:
        tables = self.service.store.tables(workspace.body["properties"]["customerId"])
        for table, columns in tables.items():
            if table.lower() == name.lower():
                return columns
        return None

    # ---------------------------------------------------------------------------- operations

    def get(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        workspace = self._workspace(ctx, rid)
        columns = self._columns(workspace, rid.name)
        if columns is None:
            raise NotFound(f"The table '{rid.name}' was not found.", code="ResourceNotFound")
        name = self._stored_name(workspace, rid.name)
        row = get_row(ctx.conn, ctx.tenant_id, f"{workspace.id}/tables/{name}")
        return Reply(200, self._json(workspace, name, columns, row))

    def put(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        assert ctx.conn is not None
        body = require_object(body)
        workspace = self._workspace(ctx, rid)
        customer_id = workspace.body["properties"]["customerId"]
        properties = require_object(body.get("properties", {}))
        settings = _settings(properties)
        existing_columns = self._columns(workspace, rid.name)
        standard = standard_table(rid.name) is not None
        name = rid.name
        if standard:
            name = self._stored_name(workspace, rid.name)
            if _declared_columns(properties):
                raise BadRequest(
                    f"The schema of the standard table '{name}' cannot be changed.", code="InvalidParameter"
                )
        else:
            if not _CUSTOM_NAME.match(rid.name):
                raise BadRequest(
                    f"The table name '{rid.name}' is invalid: custom table names end with '_CL' and hold "
                    "letters, digits and underscores only.",
                    code="InvalidParameter",
                )
            columns = _declared_columns(properties)
            if existing_columns is None:
                if columns.get("TimeGenerated") is not KustoType.DATETIME:
                    raise BadRequest(
                        "A custom table needs a 'TimeGenerated' column of type dateTime.",
                        code="InvalidParameter",
                        target="properties.schema.columns",
                    )
            else:
                name = self._stored_name(workspace, rid.name)
                missing = [c for c in existing_columns if c not in columns and c not in _STANDARD_NAMES]
                if columns and missing:
                    raise BadRequest(
                        f"Columns cannot be removed from a table: {', '.join(missing)} missing from the schema.",
                        code="InvalidParameter",
                        target="properties.schema.columns",
                    )
            try:
                standard_columns = {c.name: KustoType(c.type) for c in STANDARD_COLUMNS if c.name not in columns}
                full = {"TimeGenerated": KustoType.DATETIME, **columns, **standard_columns}
                self.service.store.ensure_table(customer_id, name, full)
            except LogStoreError as error:
                raise BadRequest(str(error), code="InvalidParameter", target="properties.schema.columns") from None
        resource_id = f"{workspace.id}/tables/{name}"
        existing = get_row(ctx.conn, ctx.tenant_id, resource_id)
        check_preconditions(ctx.headers, existing.etag if existing else None)
        row = save_resource(
            ctx,
            resource_id=resource_id,
            name=name,
            type_=TABLE_TYPE,
            parent=workspace.id,
            location=None,
            tags={},
            body={"properties": settings},
            existing=existing,
        )
        columns = self._columns(workspace, name) or {}
        created = existing_columns is None
        return Reply(201 if created else 200, self._json(workspace, name, columns, row))

    def patch(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        assert ctx.conn is not None
        body = require_object(body)
        workspace = self._workspace(ctx, rid)
        if self._columns(workspace, rid.name) is None:
            raise NotFound(f"The table '{rid.name}' was not found.", code="ResourceNotFound")
        existing = get_row(ctx.conn, ctx.tenant_id, f"{workspace.id}/tables/{rid.name}")
        merged = {
            **(existing.body.get("properties", {}) if existing else {}),
            **require_object(body.get("properties", {})),
        }
        return self.put(ctx, rid, {"properties": merged})

    def delete(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        assert ctx.conn is not None
        workspace = self._workspace(ctx, rid)
        customer_id = workspace.body["properties"]["customerId"]
        if standard_table(rid.name) is not None:
            raise BadRequest(f"The standard table '{rid.name}' cannot be deleted.", code="InvalidParameter")
        columns = self._columns(workspace, rid.name)
        if columns is None:
            return Reply(204)
        name = self._stored_name(workspace, rid.name)
        delete_tree(ctx.conn, ctx.tenant_id, f"{workspace.id}/tables/{name}")
        self.service.store.drop_table(customer_id, name)
        return Reply(200)

    def list(self, ctx: RequestContext, scope: str, parent: ResourceId | None) -> list[dict[str, Any]]:
        assert ctx.conn is not None and parent is not None
        workspace = get_row(ctx.conn, ctx.tenant_id, str(parent))
        if workspace is None:
            return []
        tables = self.service.store.tables(workspace.body["properties"]["customerId"])
        return [
            self._json(workspace, name, columns, get_row(ctx.conn, ctx.tenant_id, f"{workspace.id}/tables/{name}"))
            for name, columns in sorted(tables.items())
        ]


def _settings(properties: dict[str, Any]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for field, low, high in (("retentionInDays", 4, 730), ("totalRetentionInDays", 4, 4383)):
        value = properties.get(field, -1)
        if value is None:
            value = -1
        if not isinstance(value, int) or isinstance(value, bool) or (value != -1 and not low <= value <= high):
            raise BadRequest(
                f"'{field}' must be -1 (the workspace default) or between {low} and {high}.",
                code="InvalidParameter",
                target=f"properties.{field}",
            )
        settings[field] = value
    total, interactive = settings["totalRetentionInDays"], settings["retentionInDays"]
    if -1 not in (total, interactive) and total < interactive:
        raise BadRequest(
            "'totalRetentionInDays' cannot be less than 'retentionInDays'.",
            code="InvalidParameter",
            target="properties.totalRetentionInDays",
        )
    plan = properties.get("plan", "Analytics")
    if plan not in PLANS:
        raise BadRequest(
            f"'plan' must be one of {', '.join(PLANS)}.", code="InvalidParameter", target="properties.plan"
        )
    settings["plan"] = plan
    schema = properties.get("schema") or {}
    if isinstance(schema, dict) and isinstance(schema.get("description"), str):
        settings["description"] = schema["description"][:1024]
    return settings


def _declared_columns(properties: dict[str, Any]) -> dict[str, KustoType]:
    schema = properties.get("schema") or {}
    if not isinstance(schema, dict):
        raise BadRequest("'properties.schema' must be an object.", code="InvalidParameter", target="properties.schema")
    columns = schema.get("columns") or []
    if not isinstance(columns, list):
        raise BadRequest(
            "'schema.columns' must be an array.", code="InvalidParameter", target="properties.schema.columns"
        )
    result: dict[str, KustoType] = {}
    for i, column in enumerate(columns):
        where = f"properties.schema.columns[{i}]"
        if not isinstance(column, dict) or not isinstance(column.get("name"), str):
            raise BadRequest(f"'{where}' needs a 'name' and a 'type'.", code="InvalidParameter", target=where)
        name = column["name"]
        if not _COLUMN_NAME.match(name) or name.lower() in (n.lower() for n in result):
            raise BadRequest(f"Invalid or repeated column name '{name}'.", code="InvalidParameter", target=where)
        if name in _STANDARD_NAMES and name != "TimeGenerated":
            raise BadRequest(
                f"'{name}' is a standard column; it cannot be declared.", code="InvalidParameter", target=where
            )
        result[name] = parse_api_type(column.get("type"), f"{where}.type")
    return result
