"""Multi-user authorization (MUA): ``Microsoft.DataProtection/resourceGuards`` and the vault's proxy to one.

A resource guard is a resource another principal owns (usually in a subscription or resource
group the backup admin cannot write). Linking it to a vault with
``vaults/{vault}/backupResourceGuardProxies/VaultProxy`` makes the vault's critical operations
(disable soft delete, modify a policy, delete recovery points, stop protection with delete,
remove the proxy) need an approval from the guard's side at the time of the operation.

As in Azure, the approval is a role on the guard: the caller must be allowed
``Microsoft.DataProtection/resourceGuards/{operation}/action`` there (Azure's "Backup MUA
Operator" role grants ``Microsoft.DataProtection/*/action``). Azure time-boxes that role with
PIM; here a role assignment made directly on the guard counts only for the guard's
``properties.approvalDuration`` (ISO 8601, default ``PT1H``; a Warden extension) after it was
created, so the guard owner grants a window by assigning the role and it lapses on its own.
Assignments above the guard (the guard owner's own roles) are not time-boxed.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from warden.authz.engine import permission_allows, scope_ancestors
from warden.authz.store import find_role
from warden.kernel.clock import aware, isoformat, utcnow
from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest, Forbidden, NotFound
from warden.kernel.ids import ResourceId, key
from warden.kernel.reply import Reply
from warden.kernel.resources import (
    GenericResourceHandler,
    delete_tree,
    get_row,
    resource_json,
    save_resource,
    update_resource,
)
from warden.kernel.schema import role_assignments

GUARD_TYPE = "Microsoft.DataProtection/resourceGuards"
PROXY_TYPE = "Microsoft.RecoveryServices/vaults/backupResourceGuardProxies"
PROXY_NAME = "VaultProxy"
GUARD_API_VERSIONS = ("2025-07-01", "2024-04-01", "2023-05-01", "2022-05-01")
# Azure's Recovery Services critical operations, plus recovery-point deletion (Warden protects it too).
CRITICAL_OPERATIONS = (
    "deleteResourceGuardProxyRequests",
    "disableSoftDeleteRequests",
    "deleteProtectedItemRequests",
    "updateProtectedItemRequests",
    "updateProtectionPolicyRequests",
    "getBackupSecurityPINRequests",
    "deleteRecoveryPointRequests",
)
_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")
DEFAULT_APPROVAL = "PT1H"
MAX_APPROVAL = timedelta(days=1)


def parse_duration(text: str) -> timedelta:
    """Return the timedelta of an ISO 8601 day/time duration (``P1D``, ``PT30M``); raise ValueError."""
    match = _DURATION.match(text or "")
    if not match or text in ("P", "PT") or text.endswith("T"):
        raise ValueError(f"'{text}' is not an ISO 8601 duration such as PT1H")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


class GuardProperties(BaseModel):
    model_config = ConfigDict(extra="ignore")
    vaultCriticalOperationExclusionList: list[str] = Field(default_factory=list)
    description: str | None = None
    approvalDuration: str = DEFAULT_APPROVAL


def _operation_name(entry: str) -> str:
    return entry.rstrip("/").rsplit("/", 1)[-1]


def guard_on_write(ctx: RequestContext, rid: ResourceId, properties: dict[str, Any], existing: Any) -> dict[str, Any]:
    """Check the exclusion list and approval window; add Azure's read-only operation list."""
    excluded = [_operation_name(e) for e in properties.get("vaultCriticalOperationExclusionList", [])]
    unknown = sorted({e for e in excluded if e.lower() not in {o.lower() for o in CRITICAL_OPERATIONS}})
    if unknown:
        raise BadRequest(
            f"Unknown critical operations in the exclusion list: {', '.join(unknown)}.",
            code="InvalidInput",
            target="properties.vaultCriticalOperationExclusionList",
        )
    try:
        window = parse_duration(properties["approvalDuration"])
    except ValueError as error:
        raise BadRequest(str(error), code="InvalidInput", target="properties.approvalDuration") from None
    if not timedelta(seconds=1) <= window <= MAX_APPROVAL:
        raise BadRequest(
            "The approval duration must be between PT1S and P1D.",
            code="InvalidInput",
            target="properties.approvalDuration",
        )
    properties["allowAutoApprovals"] = False
    properties["resourceGuardOperations"] = [
        {"vaultCriticalOperation": f"{GUARD_TYPE}/{op}", "requestResourceType": f"{GUARD_TYPE}/{op}"}
        for op in CRITICAL_OPERATIONS
    ]
    return properties


def make_guard_handler() -> GenericResourceHandler:
    return GenericResourceHandler(GUARD_TYPE, GuardProperties, on_write=guard_on_write)


def proxy_id(vault_id: str) -> str:
    return f"{vault_id.rstrip('/')}/backupResourceGuardProxies/{PROXY_NAME}"


class ProxyHandler:
    """``vaults/{vault}/backupResourceGuardProxies/VaultProxy``: link a vault to a resource guard."""

    def get(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        assert ctx.conn is not None
        row = get_row(ctx.conn, ctx.tenant_id, str(rid))
        if row is None:
            raise NotFound(f"The resource guard proxy '{rid.name}' was not found.", code="ResourceNotFound")
        return Reply(200, resource_json(row))

    def put(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        from .vaults import vault_of

        assert ctx.conn is not None
        if rid.name != PROXY_NAME:
            raise BadRequest(f"The resource guard proxy must be named '{PROXY_NAME}'.", code="InvalidResourceName")
        vault = vault_of(ctx.conn, ctx.tenant_id, rid.parent)
        properties = body.get("properties") if isinstance(body, dict) else None
        guard_id = properties.get("resourceGuardResourceId") if isinstance(properties, dict) else None
        if not isinstance(guard_id, str) or not guard_id:
            raise BadRequest(
                "'resourceGuardResourceId' is required.",
                code="InvalidInput",
                target="properties.resourceGuardResourceId",
            )
        guard = get_row(ctx.conn, ctx.tenant_id, guard_id)
        if guard is None or guard.type.lower() != GUARD_TYPE.lower():
            raise NotFound(f"The resource guard '{guard_id}' was not found.", code="ResourceNotFound")
        ctx.authorize(f"{GUARD_TYPE}/read", guard.id)  # linking needs at least sight of the guard
        existing = get_row(ctx.conn, ctx.tenant_id, str(rid))
        if existing is not None and key(existing.body["properties"]["resourceGuardResourceId"]) != key(guard.id):
            require_mua(ctx, rid.parent, "deleteResourceGuardProxyRequests")  # replacing = removing the old one
        stored = {
            "resourceGuardResourceId": guard.id,
            "resourceGuardOperationDetails": [
                {"vaultCriticalOperation": f"{GUARD_TYPE}/{op}", "defaultResourceRequest": f"{guard.id}/{op}/default"}
                for op in CRITICAL_OPERATIONS
            ],
            "lastUpdatedTime": isoformat(utcnow()),
            "description": properties.get("description"),
        }
        row = save_resource(
            ctx,
            resource_id=str(rid),
            name=rid.name,
            type_=PROXY_TYPE,
            parent=rid.parent,
            location=None,
            tags={},
            body={"properties": stored},
            existing=existing,
        )
        _set_mua_state(ctx, vault, "Enabled")
        return Reply(200, resource_json(row))

    def patch(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        return self.put(ctx, rid, body)

    def delete(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        from .vaults import vault_of

        assert ctx.conn is not None
        existing = get_row(ctx.conn, ctx.tenant_id, str(rid))
        if existing is None:
            return Reply(204)
        require_mua(ctx, rid.parent, "deleteResourceGuardProxyRequests")
        delete_tree(ctx.conn, ctx.tenant_id, existing.id)
        _set_mua_state(ctx, vault_of(ctx.conn, ctx.tenant_id, rid.parent), "Disabled")
        return Reply(200)

    def list(self, ctx: RequestContext, scope: str, parent: ResourceId | None) -> list[dict[str, Any]]:
        assert ctx.conn is not None and parent is not None
        row = get_row(ctx.conn, ctx.tenant_id, proxy_id(str(parent)))
        return [resource_json(row)] if row is not None else []


def _set_mua_state(ctx: RequestContext, vault: Any, state: str) -> None:
    body = dict(vault.body)
    properties = dict(body.get("properties", {}))
    settings = dict(properties.get("securitySettings", {}))
    settings["multiUserAuthorization"] = state
    properties["securitySettings"] = settings
    body["properties"] = properties
    update_resource(ctx, vault, body=body)


def require_mua(ctx: RequestContext, vault_id: str, operation: str) -> None:
    """Return if the vault has no guard, the operation is excluded, or the caller holds a current approval.

    Raises Forbidden (``UserErrorMUAViolation``) otherwise, including when the guard no longer exists.
    """
    assert ctx.conn is not None
    proxy = get_row(ctx.conn, ctx.tenant_id, proxy_id(vault_id))
    if proxy is None:
        return
    guard_id = proxy.body["properties"]["resourceGuardResourceId"]
    guard = get_row(ctx.conn, ctx.tenant_id, guard_id)
    if guard is not None:
        props = guard.body.get("properties", {})
        excluded = {_operation_name(e).lower() for e in props.get("vaultCriticalOperationExclusionList", [])}
        if operation.lower() in excluded:
            return
        if _approved(ctx, guard, operation, parse_duration(props.get("approvalDuration", DEFAULT_APPROVAL))):
            return
    raise Forbidden(
        f"The operation is protected by the resource guard '{guard_id}' (multi-user authorization). The caller "
        f"needs a current approval for '{operation}' on the resource guard: ask its owner for access "
        "(e.g. the Backup MUA Operator role on the guard) and retry within the approval window.",
        code="UserErrorMUAViolation",
    )


def _approved(ctx: RequestContext, guard: Any, operation: str, window: timedelta) -> bool:
    """Whether the caller may do ``operation`` on the guard now, honouring the approval window."""
    assert ctx.conn is not None
    action = f"{GUARD_TYPE}/{operation}/action"
    if not ctx.can(action, guard.id):  # also applies deny assignments
        return False
    scopes = {key(s) for s in scope_ancestors(guard.id)}
    now = utcnow()
    rows = ctx.conn.execute(
        select(role_assignments).where(
            role_assignments.c.tenant_id == ctx.tenant_id,
            role_assignments.c.principal_id.in_(list(ctx.caller.principal_ids)),
            role_assignments.c.scope_key.in_(sorted(scopes)),
        )
    )
    for row in rows:
        role = find_role(ctx.conn, ctx.tenant_id, row.role_guid)
        if role is None or not any(permission_allows(p, action) for p in role.permissions):
            continue
        if row.scope_key != key(guard.id) or aware(row.created_at) + window > now:
            return True
    return False
