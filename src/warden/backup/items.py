"""Protected items: files and folders of this machine under a policy, and what can happen to them.

* ``PUT .../protectedItems/{FileFolder;...}`` with ``MabFileFolderProtectedItem`` properties
  (``policyId``, ``friendlyName`` = the path) protects a path; ``protectionState:
  "ProtectionStopped"`` stops protection and keeps the data; ``isRehydrate: true`` undeletes a
  soft-deleted item (it comes back with protection stopped, as in Azure).
* ``DELETE`` stops protection and deletes the data: with soft delete on, the item and its points
  are kept (``isScheduledForDeferredDelete``) for the vault's soft-delete period, then purged.
  Needs the resource guard's approval on an MUA vault; refused on an immutable vault.
* ``POST .../backup`` (``recoveryPointExpiryTimeInUTC`` optional) queues an on-demand backup job.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from warden.kernel.clock import isoformat, utcnow
from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest, Conflict, NotFound
from warden.kernel.ids import ResourceId, key
from warden.kernel.reply import Reply
from warden.kernel.resources import delete_tree, get_row, save_resource, update_resource
from warden.kernel.schema import below, resources

from . import naming
from .jobs import active_job, start_job
from .records import ACTIVE, RECOVERY_POINT, SOFT_DELETED, list_records, update_record

ITEM_TYPE = "Microsoft.RecoveryServices/vaults/backupFabrics/protectionContainers/protectedItems"
PROTECTED, STOPPED = "Protected", "ProtectionStopped"


def item_json(row: Any) -> dict[str, Any]:
    """Azure's ProtectedItemResource JSON of a stored item."""
    properties = {k: v for k, v in row.body.get("properties", {}).items() if not k.startswith("_")}
    return {"id": row.id, "name": row.name, "type": ITEM_TYPE, "properties": properties}


def _not_found(rid: ResourceId) -> NotFound:
    return NotFound(f"The protected item '{rid.name}' was not found.", code="BMSUserErrorItemNotFound")


def item_row(ctx: RequestContext, item_id: str) -> Any:
    assert ctx.conn is not None
    row = get_row(ctx.conn, ctx.tenant_id, item_id)
    if row is None or row.type.lower() != ITEM_TYPE.lower():
        raise NotFound(f"The protected item '{item_id}' was not found.", code="BMSUserErrorItemNotFound")
    return row


def _check_ids(rid: ResourceId) -> str:
    """Return the path a protected item ID names; raise BadRequest for a wrong fabric, container or name."""
    fabric, container, name = rid.names[1], rid.names[2], rid.names[3]
    if fabric.lower() != naming.FABRIC.lower():
        raise BadRequest(f"The fabric must be '{naming.FABRIC}'.", code="BMSUserErrorInvalidInput")
    if container.lower() != naming.machine_name().lower():
        raise BadRequest(
            f"The container '{container}' is not a registered machine; this server backs up '{naming.machine_name()}'.",
            code="BMSUserErrorContainerNotRegistered",
        )
    path = naming.path_of(name)
    if path is None:
        raise BadRequest(
            f"The protected item name must be '{naming.ITEM_PREFIX}' and the base64url of the path.",
            code="BMSUserErrorInvalidInput",
        )
    return path


def _check_policy_change(ctx: RequestContext, vault_id: str, old_policy_id: str, policy: Any) -> None:
    """Moving an item to a policy that keeps points for less time is lowering retention: refused on an
    immutable vault, and it needs the resource guard's approval on an MUA vault."""
    from .guards import require_mua
    from .policies import lowers_retention, policy_rules
    from .vaults import is_immutable, vault_of

    assert ctx.conn is not None
    old_policy = get_row(ctx.conn, ctx.tenant_id, old_policy_id) if old_policy_id else None
    if old_policy is None or key(old_policy.id) == key(policy.id):
        return
    _, before = policy_rules(old_policy.body["properties"])
    _, after = policy_rules(policy.body["properties"])
    if not lowers_retention(before, after):
        return
    if is_immutable(vault_of(ctx.conn, ctx.tenant_id, vault_id).body.get("properties", {})):
        raise Conflict(
            "The vault is immutable: an item cannot move to a policy with shorter retention.",
            code="UserErrorCannotReduceRetentionForImmutableVault",
        )
    require_mua(ctx, vault_id, "updateProtectedItemRequests")


class ItemsHandler:
    def get(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        assert ctx.conn is not None
        row = get_row(ctx.conn, ctx.tenant_id, str(rid))
        if row is None:
            raise _not_found(rid)
        return Reply(200, item_json(row))

    def put(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        from .vaults import vault_of

        assert ctx.conn is not None
        vault_id = naming.vault_of_item(str(rid))
        vault_of(ctx.conn, ctx.tenant_id, vault_id)
        path = _check_ids(rid)
        properties = body.get("properties") if isinstance(body, dict) else None
        if not isinstance(properties, dict):
            raise BadRequest("'properties' must be a JSON object.", code="InvalidRequestContent", target="properties")
        existing = get_row(ctx.conn, ctx.tenant_id, str(rid))
        old = existing.body["properties"] if existing is not None else {}
        if old.get("isScheduledForDeferredDelete"):
            if properties.get("isRehydrate") is not True:
                raise Conflict(
                    "The item is soft-deleted; undelete it (isRehydrate: true) before changing it.",
                    code="UserErrorSoftDeletedItemCannotBeModified",
                )
            return self._undelete(ctx, existing)
        if properties.get("protectedItemType", "MabFileFolderProtectedItem") != "MabFileFolderProtectedItem":
            raise BadRequest(
                "protectedItemType must be 'MabFileFolderProtectedItem'.",
                code="BMSUserErrorInvalidInput",
                target="properties.protectedItemType",
            )
        friendly = properties.get("friendlyName", path)
        if friendly != path:
            raise BadRequest(
                "friendlyName must be the path the item name encodes.",
                code="BMSUserErrorInvalidInput",
                target="properties.friendlyName",
            )
        if not os.path.isabs(path) or not os.path.lexists(path):
            raise BadRequest(
                f"The path '{path}' does not exist on '{naming.machine_name()}'.",
                code="BMSUserErrorPathNotFound",
                target="properties.friendlyName",
            )
        if naming.overlaps(path, str(ctx.platform.settings.data_dir)):
            # The data dir holds the master key and database: backing it up would hand them to whoever
            # may restore or (with a customer key) read the vault.
            raise BadRequest(
                f"The path '{path}' is or contains Warden's data directory and cannot be protected.",
                code="BMSUserErrorPathNotAllowed",
                target="properties.friendlyName",
            )
        roots = [str(r) for r in ctx.platform.settings.backup_roots]
        if not naming.within(path, roots):
            # The server reads and restores as its own OS user: which of its machine's files tenants
            # may reach is the operator's decision (warden init --backup-root), not a role's.
            raise BadRequest(
                f"The path '{path}' is outside the directories this server lets vaults protect "
                f"({', '.join(roots) or 'none are configured: warden init --backup-root DIR'}).",
                code="BMSUserErrorPathNotAllowed",
                target="properties.friendlyName",
            )
        state = properties.get("protectionState", PROTECTED)
        policy_id = properties.get("policyId") or ""
        if state == STOPPED:
            if existing is None:
                raise _not_found(rid)
            policy_id = old.get("policyId", "")
        elif state == PROTECTED:
            policy = get_row(ctx.conn, ctx.tenant_id, policy_id) if policy_id else None
            if policy is None or key(naming.vault_of_policy(policy.id)) != key(vault_id):
                raise BadRequest(
                    f"The policy '{policy_id}' was not found in this vault.",
                    code="BMSUserErrorPolicyNotFound",
                    target="properties.policyId",
                )
            policy_id = policy.id
            _check_policy_change(ctx, vault_id, old.get("policyId") or "", policy)
        else:
            raise BadRequest(
                "protectionState must be 'Protected' or 'ProtectionStopped'.",
                code="BMSUserErrorInvalidInput",
                target="properties.protectionState",
            )
        stored = {
            **old,
            "protectedItemType": "MabFileFolderProtectedItem",
            "backupManagementType": "MAB",
            "workloadType": "FileFolder",
            "containerName": rid.names[2],
            "friendlyName": path,
            "computerName": rid.names[2],
            "policyId": policy_id,
            "protectionState": state,
            "isScheduledForDeferredDelete": False,
        }
        stored.setdefault("lastBackupStatus", "")
        stored.setdefault("extendedInfo", {"recoveryPointCount": 0})
        row = save_resource(
            ctx,
            resource_id=str(rid),
            name=rid.name,
            type_=ITEM_TYPE,
            parent=rid.parent,
            location=None,
            tags={},
            body={"properties": stored},
            existing=existing,
        )
        return Reply(200, item_json(row))

    def patch(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        return self.put(ctx, rid, body)

    def _undelete(self, ctx: RequestContext, row: Any) -> Reply:
        assert ctx.conn is not None
        properties = {**row.body["properties"], "protectionState": STOPPED, "isScheduledForDeferredDelete": False}
        for name in ("deferredDeleteTimeInUTC", "deferredDeleteTimeRemaining", "_purgeAfter"):
            properties.pop(name, None)
        for point in list_records(ctx.conn, ctx.tenant_id, item_id=row.id, kind=RECOVERY_POINT):
            if point.status == SOFT_DELETED:
                body = {k: v for k, v in point.body.items() if k != "_purgeAfter"}
                update_record(ctx.conn, ctx.tenant_id, point.id, status=ACTIVE, body=body)
        row = update_resource(ctx, row, body={**row.body, "properties": properties})
        return Reply(200, item_json(row))

    def delete(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        from .guards import require_mua
        from .vaults import SoftDeleteState, is_immutable, security, vault_of

        assert ctx.conn is not None
        row = get_row(ctx.conn, ctx.tenant_id, str(rid))
        if row is None:
            return Reply(204)
        if row.body["properties"].get("isScheduledForDeferredDelete"):
            raise Conflict("The item is already soft-deleted.", code="UserErrorSoftDeletedItemCannotBeModified")
        vault_id = naming.vault_of_item(row.id)
        vault = vault_of(ctx.conn, ctx.tenant_id, vault_id)
        if active_job(ctx.conn, ctx.tenant_id, row.id) is not None:
            raise Conflict(
                "A job is running for this item; wait for it or cancel it.", code="UserErrorOperationInProgress"
            )
        points = [p for p in list_records(ctx.conn, ctx.tenant_id, item_id=row.id, kind=RECOVERY_POINT)]
        if points and is_immutable(vault.body.get("properties", {})):
            raise Conflict(
                "The vault is immutable: stop protection and delete data is not allowed while recovery points remain.",
                code="UserErrorCannotDeleteDataFromImmutableVault",
            )
        require_mua(ctx, vault_id, "deleteProtectedItemRequests")
        state, days, _ = security(vault.body.get("properties", {}))
        if state == SoftDeleteState.DISABLED:
            from .recovery_points import expire_points

            expire_points(ctx.platform, ctx.conn, ctx.tenant_id, vault_id, points)
            delete_tree(ctx.conn, ctx.tenant_id, row.id)
            return Reply(200)
        now = utcnow()
        purge_after = now + timedelta(days=days)
        for point in points:
            update_record(
                ctx.conn,
                ctx.tenant_id,
                point.id,
                status=SOFT_DELETED,
                body={**point.body, "_purgeAfter": isoformat(purge_after)},
            )
        properties = {
            **row.body["properties"],
            "protectionState": STOPPED,
            "isScheduledForDeferredDelete": True,
            "deferredDeleteTimeInUTC": isoformat(now),
            "deferredDeleteTimeRemaining": f"{days}.00:00:00",
            "_purgeAfter": isoformat(purge_after),
        }
        update_resource(ctx, row, body={**row.body, "properties": properties})
        return Reply(200)

    def list(self, ctx: RequestContext, scope: str, parent: ResourceId | None) -> list[dict[str, Any]]:
        assert ctx.conn is not None and parent is not None
        return [item_json(r) for r in items_under(ctx.conn, ctx.tenant_id, str(parent))]


def items_under(conn, tenant_id: str, scope_id: str) -> list[Any]:  # type: ignore[no-untyped-def]
    """Return the protected item rows below a vault or container ID."""
    return list(
        conn.execute(
            select(resources)
            .where(
                resources.c.tenant_id == tenant_id,
                below(resources.c.key, key(scope_id)),
                resources.c.type_key == ITEM_TYPE.lower(),
            )
            .order_by(resources.c.key)
        )
    )


class VaultItemsHandler(ItemsHandler):
    """``vaults/{vault}/backupProtectedItems``: every protected item of a vault (list only)."""

    def get(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        raise NotFound("Use the item's full protectedItems ID.", code="BMSUserErrorItemNotFound")

    def put(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        raise BadRequest("Protect items at their full protectedItems ID.", code="BMSUserErrorInvalidInput")

    def delete(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        raise BadRequest("Delete items at their full protectedItems ID.", code="BMSUserErrorInvalidInput")


def trigger_backup(ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
    """POST ``.../protectedItems/{item}/backup``: queue an on-demand backup job; 202 with the job's ID."""
    assert ctx.conn is not None
    row = item_row(ctx, str(rid))
    properties = row.body["properties"]
    if properties.get("protectionState") != PROTECTED:
        raise Conflict(
            "The item is not protected; resume protection before backing it up.", code="BMSUserErrorProtectionStopped"
        )
    retain_until = None
    request = (body or {}).get("properties", {}) if isinstance(body, dict) else None
    if not isinstance(request, dict):
        raise BadRequest("'properties' must be a JSON object.", code="InvalidRequestContent", target="properties")
    if request.get("recoveryPointExpiryTimeInUTC"):
        try:
            retain_until = datetime.fromisoformat(str(request["recoveryPointExpiryTimeInUTC"]).replace("Z", "+00:00"))
        except ValueError:
            raise BadRequest(
                "recoveryPointExpiryTimeInUTC must be a date-time.",
                code="BMSUserErrorInvalidInput",
                target="properties.recoveryPointExpiryTimeInUTC",
            ) from None
        if retain_until.tzinfo is None:
            retain_until = retain_until.replace(tzinfo=utcnow().tzinfo)
        if retain_until <= utcnow():
            raise BadRequest(
                "recoveryPointExpiryTimeInUTC must be in the future.",
                code="BMSUserErrorInvalidInput",
                target="properties.recoveryPointExpiryTimeInUTC",
            )
    job_id = enqueue_backup(ctx.conn, ctx.tenant_id, row, retain_until, "Backup")
    link = ctx.link(f"{job_id}?api-version={ctx.api_version or '2025-02-01'}")
    return Reply(202, {"id": job_id, "name": job_id.rsplit("/", 1)[1]}, {"Location": link, "Retry-After": "1"})


def enqueue_backup(conn, tenant_id: str, item: Any, retain_until: datetime | None, operation: str) -> str:  # type: ignore[no-untyped-def]
    """Start a backup job for ``item`` unless one is running; return its job ID. Raises Conflict if one runs."""
    if active_job(conn, tenant_id, item.id) is not None:
        raise Conflict("A backup or restore of this item is already in progress.", code="UserErrorOperationInProgress")
    properties = item.body["properties"]
    return start_job(
        conn,
        tenant_id,
        vault_id=naming.vault_of_item(item.id),
        item_id=item.id,
        operation=operation,
        friendly_name=properties["friendlyName"],
        request={"retainUntil": isoformat(retain_until) if retain_until else None},
    )
