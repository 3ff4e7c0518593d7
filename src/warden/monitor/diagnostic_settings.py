"""``Microsoft.Insights/diagnosticSettings`` at subscription scope: the activity log to a workspace.

A setting names a Log Analytics workspace (``workspaceId``, its ARM ID) and the activity log
categories to send (``logs: [{"category": "Administrative", "enabled": true}, ...]``). Events
recorded after the setting was created are copied to the workspace's ``AzureActivity`` table by
the monitor's background loop (``exports.py``), which keeps its position in the setting's private
``_cursor`` (the last exported activity sequence number).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest
from warden.kernel.ids import ResourceId, parse_resource_id
from warden.kernel.providers import SUBSCRIPTION, ProviderRegistry, ResourceType
from warden.kernel.resources import GenericResourceHandler, get_row
from warden.kernel.schema import activity_events, resources

from .service import WORKSPACE_TYPE

if TYPE_CHECKING:
    from .service import LogService

TYPE = "Microsoft.Insights/diagnosticSettings"
API_VERSIONS = ("2021-05-01-preview", "2017-05-01-preview")
# The subscription activity log's categories, as Azure names them.
CATEGORIES = (
    "Administrative",
    "Security",
    "ServiceHealth",
    "Alert",
    "Recommendation",
    "Policy",
    "Autoscale",
    "ResourceHealth",
)


class LogSetting(BaseModel):
    model_config = ConfigDict(extra="ignore")
    category: str | None = None
    categoryGroup: str | None = None
    enabled: bool = False


class DiagnosticSettingsProperties(BaseModel):
    model_config = ConfigDict(extra="ignore")
    workspaceId: str | None = None
    storageAccountId: str | None = None
    eventHubAuthorizationRuleId: str | None = None
    eventHubName: str | None = None
    logs: list[LogSetting] = Field(default_factory=list)
    logAnalyticsDestinationType: str | None = None


def enabled_categories(properties: dict[str, Any]) -> set[str]:
    """The categories a setting sends (``categoryGroup: allLogs`` means all of them)."""
    result: set[str] = set()
    for entry in properties.get("logs", []):
        if not entry.get("enabled"):
            continue
        if (entry.get("categoryGroup") or "").lower() == "alllogs":
            result.update(CATEGORIES)
        elif entry.get("category"):
            result.add(entry["category"])
    return result


def _on_write(ctx: RequestContext, rid: ResourceId, properties: dict[str, Any], existing: Any) -> dict[str, Any]:
    assert ctx.conn is not None
    if properties.get("storageAccountId") or properties.get("eventHubAuthorizationRuleId"):
        raise BadRequest(
            "Only Log Analytics workspaces are supported as destinations.",
            code="InvalidDiagnosticSettings",
            target="properties",
        )
    workspace_id = properties.get("workspaceId")
    row = None
    if isinstance(workspace_id, str):
        try:
            workspace_rid = parse_resource_id(workspace_id)
        except ValueError:
            workspace_rid = None
        if workspace_rid is not None and workspace_rid.type.lower() == WORKSPACE_TYPE.lower():
            row = get_row(ctx.conn, ctx.tenant_id, workspace_id)
    if row is None or not ctx.can(f"{WORKSPACE_TYPE}/read", row.id):
        raise BadRequest(
            f"The workspace '{workspace_id}' was not found.",
            code="InvalidDiagnosticSettings",
            target="properties.workspaceId",
        )
    for i, entry in enumerate(properties.get("logs", [])):
        category, group = entry.get("category"), entry.get("categoryGroup")
        if bool(category) == bool(group):
            raise BadRequest(
                f"properties.logs[{i}] needs either a category or a categoryGroup.",
                code="InvalidDiagnosticSettings",
                target=f"properties.logs[{i}]",
            )
        if category and category not in CATEGORIES:
            raise BadRequest(
                f"Unknown activity log category '{category}'; expected one of {', '.join(CATEGORIES)}.",
                code="InvalidDiagnosticSettings",
                target=f"properties.logs[{i}].category",
            )
        if group and group.lower() not in ("alllogs", "audit"):
            raise BadRequest(
                f"Unknown category group '{group}'.", code="InvalidDiagnosticSettings", target=f"properties.logs[{i}]"
            )
    properties["workspaceId"] = row.id
    return properties


def current_position(conn: Any, tenant_id: str) -> int:
    """The tenant's latest activity sequence number (export starts after it)."""
    value = conn.execute(
        select(func.max(activity_events.c.seq)).where(activity_events.c.tenant_id == tenant_id)
    ).scalar()
    return int(value or 0)


class DiagnosticSettingsHandler(GenericResourceHandler):
    """Stores settings like any resource; a new one starts exporting from the current event."""

    def put(self, ctx: RequestContext, rid: ResourceId, body: Any):  # type: ignore[no-untyped-def]
        assert ctx.conn is not None
        existing = self._row(ctx, rid)
        reply = super().put(ctx, rid, body)
        if existing is None:
            row = self._row(ctx, rid)
            position = current_position(ctx.conn, ctx.tenant_id)
            ctx.conn.execute(
                resources.update()
                .where(resources.c.tenant_id == ctx.tenant_id, resources.c.key == row.key)
                .values(body={**row.body, "_cursor": position})
            )
        return reply


def register(registry: ProviderRegistry, service: LogService) -> None:
    registry.register(
        ResourceType(
            "Microsoft.Insights",
            ("diagnosticSettings",),
            DiagnosticSettingsHandler(TYPE, DiagnosticSettingsProperties, location_required=False, on_write=_on_write),
            placements=frozenset({SUBSCRIPTION}),
            display_name="diagnostic setting",
            api_versions=API_VERSIONS,
        )
    )
