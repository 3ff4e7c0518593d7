"""``{scope}/providers/Microsoft.Authorization/denyAssignments/{id}``: read-only through the API.

As in Azure, deny assignments are created by the platform itself (later features such as
deployment stacks and lockbox call ``create_deny_assignment``), never by a PUT.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection, insert, or_, select

from warden.authz.engine import EVERYONE, Permission, scope_ancestors
from warden.kernel.clock import utcnow
from warden.kernel.context import RequestContext
from warden.kernel.errors import MethodNotAllowed, NotFound
from warden.kernel.ids import ResourceId, key
from warden.kernel.reply import Reply
from warden.kernel.schema import below, deny_assignments

TYPE = "Microsoft.Authorization/denyAssignments"


def create_deny_assignment(
    conn: Connection,
    tenant_id: str,
    scope: str,
    name: str,
    permissions: list[Permission],
    principal_ids: list[str],
    *,
    exclude_principal_ids: list[str] = (),  # type: ignore[assignment]
    do_not_apply_to_child_scopes: bool = False,
    description: str = "",
) -> str:
    """Store a system deny assignment at ``scope`` and return its ID."""
    guid = str(uuid.uuid4())
    deny_id = f"{'' if scope == '/' else scope}/providers/{TYPE}/{guid}"
    body = {
        "properties": {
            "denyAssignmentName": name,
            "description": description,
            "permissions": [
                {
                    "actions": list(p.actions),
                    "notActions": list(p.not_actions),
                    "dataActions": list(p.data_actions),
                    "notDataActions": list(p.not_data_actions),
                }
                for p in permissions
            ],
            "scope": scope,
            "doNotApplyToChildScopes": do_not_apply_to_child_scopes,
            "principals": [
                {"id": p, "type": "SystemDefined" if p == EVERYONE else "ServicePrincipal"} for p in principal_ids
            ],
            "excludePrincipals": [{"id": p, "type": "ServicePrincipal"} for p in exclude_principal_ids],
            "isSystemProtected": True,
        }
    }
    conn.execute(
        insert(deny_assignments).values(
            tenant_id=tenant_id, key=key(deny_id), id=deny_id, scope_key=key(scope), body=body, created_at=utcnow()
        )
    )
    return deny_id


def deny_json(row: Any) -> dict[str, Any]:
    return {"id": row.id, "name": row.id.rsplit("/", 1)[-1], "type": TYPE, "properties": row.body["properties"]}


class DenyAssignmentHandler:
    def get(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        assert ctx.conn is not None
        row = ctx.conn.execute(
            select(deny_assignments).where(
                deny_assignments.c.tenant_id == ctx.tenant_id, deny_assignments.c.key == rid.key
            )
        ).first()
        if row is None:
            raise NotFound(f"The deny assignment '{rid.name}' could not be found.", code="DenyAssignmentNotFound")
        return Reply(200, deny_json(row))

    def put(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        raise MethodNotAllowed(
            "Deny assignments are created by the platform and are read-only.", code="DenyAssignmentsAreReadOnly"
        )

    patch = put

    def delete(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        raise MethodNotAllowed(
            "Deny assignments are created by the platform and are read-only.", code="DenyAssignmentsAreReadOnly"
        )

    def list(self, ctx: RequestContext, scope: str, parent: ResourceId | None) -> list[dict[str, Any]]:
        assert ctx.conn is not None
        scope_key = key(scope or "/")
        where = or_(
            deny_assignments.c.scope_key.in_(scope_ancestors(scope_key)),
            below(deny_assignments.c.scope_key, scope_key),
        )
        rows = ctx.conn.execute(select(deny_assignments).where(deny_assignments.c.tenant_id == ctx.tenant_id, where))
        return [deny_json(r) for r in rows]
