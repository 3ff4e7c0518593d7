"""``Microsoft.OperationalInsights/workspaces``: Log Analytics workspaces and their shared keys.

A workspace gets a ``customerId`` (the GUID the query and Data Collector APIs name it by) and a
log store holding every standard table. ``sharedKeys`` returns the two keys the Data Collector
API signs with; ``regenerateSharedKey`` replaces one (or both) by bumping its generation.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from warden.kernel.clock import isoformat, utcnow
from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest, MethodNotAllowed, NotFound
from warden.kernel.ids import ResourceId
from warden.kernel.providers import RESOURCE_GROUP, Action, ProviderRegistry, ResourceType
from warden.kernel.reply import Reply
from warden.kernel.resources import GenericResourceHandler, get_row, update_resource

from .logstore import LogStoreError, PurgeFilter
from .service import KEY_NAMES, WORKSPACE_TYPE

if TYPE_CHECKING:
    from .service import LogService

API_VERSIONS = ("2025-02-01", "2023-09-01", "2022-10-01", "2021-12-01-preview", "2021-06-01", "2020-08-01")
DEFAULT_RETENTION_DAYS = 30


class SkuName(StrEnum):
    FREE = "Free"
    STANDARD = "Standard"
    PREMIUM = "Premium"
    PER_NODE = "PerNode"
    PER_GB_2018 = "PerGB2018"
    STANDALONE = "Standalone"
    CAPACITY_RESERVATION = "CapacityReservation"
    LA_CLUSTER = "LACluster"


class Sku(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: SkuName = SkuName.PER_GB_2018
    capacityReservationLevel: int | None = Field(default=None, ge=100, le=50000)


class WorkspaceCapping(BaseModel):
    model_config = ConfigDict(extra="ignore")
    dailyQuotaGb: float = -1


class WorkspaceProperties(BaseModel):
    """What a client may set; customerId, dates and provisioningState are the platform's."""

    model_config = ConfigDict(extra="ignore")
    sku: Sku = Field(default_factory=Sku)
    # Azure: 30-730 days on PerGB2018 (7 on the Free tier, which cannot be changed).
    retentionInDays: int | None = Field(default=None, ge=7, le=730)
    workspaceCapping: WorkspaceCapping = Field(default_factory=WorkspaceCapping)
    publicNetworkAccessForIngestion: str = "Enabled"
    publicNetworkAccessForQuery: str = "Enabled"
    features: dict[str, Any] = Field(default_factory=dict)


def _on_write(service: LogService):  # type: ignore[no-untyped-def]
    def hook(ctx: RequestContext, rid: ResourceId, properties: dict[str, Any], existing: Any) -> dict[str, Any]:
        now = isoformat(utcnow())
        kept = existing.body["properties"] if existing is not None else {}
        customer_id = kept.get("customerId") or str(uuid.uuid4())
        sku = properties.get("sku", {}).get("name", SkuName.PER_GB_2018)
        retention = properties.get("retentionInDays")
        if sku == SkuName.FREE:
            if retention not in (None, 7):
                raise BadRequest(
                    "The retention of a workspace on the Free tier is 7 days and cannot be changed.",
                    code="InvalidParameter",
                    target="properties.retentionInDays",
                )
            retention = 7
        elif retention is None:
            retention = kept.get("retentionInDays", DEFAULT_RETENTION_DAYS)
        elif retention < 30:
            raise BadRequest(
                "The retention must be between 30 and 730 days.",
                code="InvalidParameter",
                target="properties.retentionInDays",
            )
        service.create_workspace(customer_id)
        return {
            **properties,
            "customerId": customer_id,
            "retentionInDays": retention,
            "sku": {**properties.get("sku", {}), "lastSkuUpdate": kept.get("sku", {}).get("lastSkuUpdate", now)},
            "features": {"legacy": 0, "searchVersion": 1, "enableLogAccessUsingOnlyResourcePermissions": True}
            | properties.get("features", {}),
            "createdDate": kept.get("createdDate", now),
            "modifiedDate": now,
        }

    return hook


def _on_delete(service: LogService):  # type: ignore[no-untyped-def]
    def hook(conn: Connection, tenant_id: str, row: Any) -> None:
        customer_id = row.body.get("properties", {}).get("customerId")
        if customer_id:
            # Azure keeps a deleted workspace recoverable for 14 days; Warden deletes the data now.
            service.store.drop_workspace(customer_id)
            service.forget(customer_id)

    return hook


def _workspace_row(ctx: RequestContext, rid: ResourceId) -> Any:
    assert ctx.conn is not None
    row = get_row(ctx.conn, ctx.tenant_id, str(rid))
    if row is None:
        raise NotFound(f"The workspace '{rid.name}' was not found.", code="ResourceNotFound")
    return row


def _keys_reply(service: LogService, row: Any) -> Reply:
    keys = service.shared_keys(row.body["properties"]["customerId"], row.body.get("_keyGenerations"))
    return Reply(200, {"primarySharedKey": keys["primary"], "secondarySharedKey": keys["secondary"]})


def _shared_keys(service: LogService):  # type: ignore[no-untyped-def]
    def run(ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        return _keys_reply(service, _workspace_row(ctx, rid))

    return run


def _regenerate(service: LogService):  # type: ignore[no-untyped-def]
    def run(ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        row = _workspace_row(ctx, rid)
        wanted = KEY_NAMES
        if isinstance(body, dict) and body.get("keyName") is not None:
            name = str(body["keyName"]).lower()
            if name not in KEY_NAMES:
                raise BadRequest("keyName must be 'primary' or 'secondary'.", code="InvalidParameter", target="keyName")
            wanted = (name,)
        generations = dict(row.body.get("_keyGenerations", {}))
        for name in wanted:
            generations[name] = int(generations.get(name, 0)) + 1
        row = update_resource(ctx, row, body={**row.body, "_keyGenerations": generations})
        return _keys_reply(service, row)

    return run


def _purge(service: LogService):  # type: ignore[no-untyped-def]
    """Azure's workspace purge: delete the rows of one table matching every filter (GDPR requests).

    The rows are deleted before the answer (Azure queues it); the answer keeps Azure's shape,
    202 with ``operationId`` and an ``x-ms-status-location`` to poll. The POST itself is an
    activity-log operation (``workspaces/purge/action``) like every other write.
    """

    def run(ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        row = _workspace_row(ctx, rid)
        if not isinstance(body, dict) or not isinstance(body.get("table"), str) or not body["table"]:
            raise BadRequest("The purge body needs a 'table' and 'filters'.", code="InvalidParameter", target="table")
        filters = body.get("filters")
        if not isinstance(filters, list) or not filters:
            raise BadRequest("A purge needs at least one filter.", code="InvalidParameter", target="filters")
        parsed = []
        for i, item in enumerate(filters):
            if not isinstance(item, dict) or not isinstance(item.get("column"), str) or "operator" not in item:
                raise BadRequest(
                    f"filters[{i}] needs 'column', 'operator' and 'value'.", code="InvalidParameter", target="filters"
                )
            parsed.append(PurgeFilter(item["column"], str(item["operator"]), item.get("value")))
        customer_id = row.body["properties"]["customerId"]
        try:
            removed = service.store.purge(customer_id, body["table"], parsed)
        except LogStoreError as error:
            raise BadRequest(str(error), code="InvalidParameter") from None
        operation_id = f"purge-{uuid.uuid4()}"
        purges = {**row.body.get("_purges", {}), operation_id: {"status": "completed", "rows": removed}}
        update_resource(ctx, row, body={**row.body, "_purges": dict(list(purges.items())[-100:])})
        location = ctx.link(f"{rid}/operations/{operation_id}?api-version={ctx.api_version}")
        return Reply(202, {"operationId": operation_id}, {"x-ms-status-location": location})

    return run


class PurgeStatusHandler:
    """``workspaces/{ws}/operations/{purgeId}``: the status of a purge (read-only)."""

    def get(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        assert ctx.conn is not None
        row = get_row(ctx.conn, ctx.tenant_id, rid.parent)
        found = row.body.get("_purges", {}).get(rid.name) if row is not None else None
        if found is None:
            raise NotFound(f"The purge operation '{rid.name}' was not found.", code="ResourceNotFound")
        return Reply(200, {"status": found["status"]})

    def put(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        raise MethodNotAllowed("Purge operations are created by the purge action.")

    patch = put

    def delete(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        raise MethodNotAllowed("Purge operations cannot be deleted.")

    def list(self, ctx: RequestContext, scope: str, parent: ResourceId | None) -> list[dict[str, Any]]:
        return []


def register(registry: ProviderRegistry, service: LogService) -> ResourceType:
    handler = GenericResourceHandler(
        WORKSPACE_TYPE, WorkspaceProperties, on_write=_on_write(service), on_delete=_on_delete(service)
    )
    workspace = registry.register(
        ResourceType(
            "Microsoft.OperationalInsights",
            ("workspaces",),
            handler,
            placements=frozenset({RESOURCE_GROUP}),
            display_name="Log Analytics workspace",
            api_versions=API_VERSIONS,
        )
    )
    workspace.add_action(
        Action("sharedKeys", _shared_keys(service), description="Retrieve the workspace's shared keys")
    )
    workspace.add_action(
        Action("regenerateSharedKey", _regenerate(service), description="Regenerate the workspace's shared keys")
    )
    workspace.add_action(Action("purge", _purge(service), description="Delete rows of a table matching filters"))
    registry.register(
        ResourceType(
            "Microsoft.OperationalInsights",
            ("workspaces", "operations"),
            PurgeStatusHandler(),
            placements=frozenset({RESOURCE_GROUP}),
            display_name="Log Analytics purge operation",
            api_versions=API_VERSIONS,
            writable=False,
        )
    )
    return workspace
