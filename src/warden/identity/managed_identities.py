"""``Microsoft.ManagedIdentity/userAssignedIdentities``: an identity resource backed by a real
service principal, so it can be given roles like any other principal. Deleting the resource
deletes the principal and its role assignments."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Connection, delete

from warden.identity.principals import create_service_principal
from warden.kernel.context import RequestContext
from warden.kernel.ids import ResourceId
from warden.kernel.providers import RESOURCE_GROUP, ProviderRegistry, ResourceType
from warden.kernel.resources import GenericResourceHandler
from warden.kernel.schema import client_secrets, role_assignments, service_principals

TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities"


class IdentityProperties(BaseModel):
    """All properties are set by the platform; values sent by clients are ignored."""

    model_config = ConfigDict(extra="ignore")


def _on_write(ctx: RequestContext, rid: ResourceId, properties: dict[str, Any], existing: Any) -> dict[str, Any]:
    assert ctx.conn is not None
    if existing is not None:
        kept = existing.body["properties"]
        return {k: kept[k] for k in ("tenantId", "principalId", "clientId")}
    principal = create_service_principal(ctx.conn, ctx.tenant_id, rid.name, kind="ManagedIdentity")
    return {"tenantId": ctx.tenant_id, "principalId": principal.object_id, "clientId": principal.app_id}


def _on_delete(conn: Connection, tenant_id: str, row: Any) -> None:
    object_id = row.body.get("properties", {}).get("principalId")
    if not object_id:
        return
    conn.execute(
        delete(role_assignments).where(
            role_assignments.c.tenant_id == tenant_id, role_assignments.c.principal_id == object_id
        )
    )
    conn.execute(delete(client_secrets).where(client_secrets.c.object_id == object_id))
    conn.execute(
        delete(service_principals).where(
            service_principals.c.object_id == object_id, service_principals.c.tenant_id == tenant_id
        )
    )


def register(registry: ProviderRegistry) -> None:
    handler = GenericResourceHandler(TYPE, IdentityProperties, on_write=_on_write, on_delete=_on_delete)
    registry.register(
        ResourceType(
            "Microsoft.ManagedIdentity",
            ("userAssignedIdentities",),
            handler,
            placements=frozenset({RESOURCE_GROUP}),
            display_name="user assigned identity",
            api_versions=("2023-01-31", "2018-11-30"),
        )
    )
