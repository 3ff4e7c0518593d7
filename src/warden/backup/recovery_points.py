"""``.../protectedItems/{item}/recoveryPoints/{rp}``: list, get, delete (through soft delete), undelete, restore.

A recovery point is one chunk-store snapshot of the item's path; its name is the snapshot id.
Deleting one needs the resource guard's approval on an MUA vault and is refused on an immutable
vault; with soft delete on, it is kept (state ``SoftDeleted``) until the vault's period ends and can
be brought back with ``POST .../undelete``. ``POST .../restore`` queues a restore job.

Restore request (Warden's files-and-folders shape, modelled on Azure's file-share restore)::

    {"properties": {"objectType": "FileFolderRestoreRequest",
                    "recoveryType": "OriginalLocation" | "AlternateLocation",
                    "targetDirectory": "/abs/dir",            # AlternateLocation only
                    "restoreRequestType": "FullRestore" | "ItemLevelRestore",
                    "restoreFileSpecs": [{"path": "sub/dir/file"}]}}   # relative to the item's path

The item's path is restored as ``{target}/{base name of the path}``; the original location's target
is the path's parent directory, so files are written back where they were.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from warden.kernel.clock import isoformat, utcnow
from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest, Conflict, NotFound
from warden.kernel.ids import ResourceId
from warden.kernel.reply import Reply

from . import naming
from .jobs import active_job, start_job
from .records import ACTIVE, RECOVERY_POINT, SOFT_DELETED, delete_record, get_record, list_records, update_record

if TYPE_CHECKING:
    from warden.platform import Platform

POINT_TYPE = "Microsoft.RecoveryServices/vaults/backupFabrics/protectionContainers/protectedItems/recoveryPoints"


def point_json(row: Any) -> dict[str, Any]:
    properties = {k: v for k, v in row.body.items() if not k.startswith("_")}
    properties["recoveryPointState"] = row.status
    return {"id": row.id, "name": row.name, "type": POINT_TYPE, "properties": properties}


def point_row(ctx: RequestContext, point_id: str) -> Any:
    assert ctx.conn is not None
    row = get_record(ctx.conn, ctx.tenant_id, point_id)
    if row is None or row.kind != RECOVERY_POINT:
        name = point_id.rsplit("/", 1)[-1]
        raise NotFound(f"The recovery point '{name}' was not found.", code="BMSUserErrorRecoveryPointNotFound")
    return row


class PointsHandler:
    def get(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        return Reply(200, point_json(point_row(ctx, str(rid))))

    def put(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        raise BadRequest("Recovery points are created by backups.", code="BMSUserErrorInvalidInput")

    patch = put

    def delete(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        from .guards import require_mua
        from .vaults import SoftDeleteState, is_immutable, security, vault_of

        assert ctx.conn is not None
        row = point_row(ctx, str(rid))
        if row.status == SOFT_DELETED:
            raise Conflict("The recovery point is already soft-deleted.", code="UserErrorRecoveryPointSoftDeleted")
        vault_id = naming.vault_of_item(row.id)
        vault = vault_of(ctx.conn, ctx.tenant_id, vault_id)
        if is_immutable(vault.body.get("properties", {})):
            raise Conflict(
                "The vault is immutable: recovery points cannot be deleted before they expire.",
                code="UserErrorCannotDeleteRecoveryPointFromImmutableVault",
            )
        require_mua(ctx, vault_id, "deleteRecoveryPointRequests")
        state, days, _ = security(vault.body.get("properties", {}))
        if state == SoftDeleteState.DISABLED:
            expire_points(ctx.platform, ctx.conn, ctx.tenant_id, vault_id, [row])
            return Reply(200)
        purge_after = isoformat(utcnow() + timedelta(days=days))
        update_record(
            ctx.conn, ctx.tenant_id, row.id, status=SOFT_DELETED, body={**row.body, "_purgeAfter": purge_after}
        )
        return Reply(200)

    def list(self, ctx: RequestContext, scope: str, parent: ResourceId | None) -> list[dict[str, Any]]:
        from .items import item_row

        assert ctx.conn is not None and parent is not None
        item_row(ctx, str(parent))
        rows = list_records(ctx.conn, ctx.tenant_id, item_id=str(parent), kind=RECOVERY_POINT)
        return [point_json(r) for r in sorted(rows, key=lambda r: r.body["recoveryPointTime"], reverse=True)]


def undelete(ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
    """POST ``recoveryPoints/{rp}/undelete``: bring a soft-deleted point back; 200 with the point."""
    assert ctx.conn is not None
    row = point_row(ctx, str(rid))
    if row.status != SOFT_DELETED:
        raise Conflict("The recovery point is not soft-deleted.", code="UserErrorRecoveryPointNotSoftDeleted")
    update_record(
        ctx.conn, ctx.tenant_id, row.id, status=ACTIVE, body={k: v for k, v in row.body.items() if k != "_purgeAfter"}
    )
    return Reply(200, point_json(get_record(ctx.conn, ctx.tenant_id, row.id)))


def _relative(spec: Any) -> str:
    path = spec.get("path") if isinstance(spec, dict) else None
    if not isinstance(path, str) or not path.strip("/") or os.path.isabs(path) or ".." in path.split("/"):
        raise BadRequest(
            "Each restoreFileSpecs path must be relative to the protected path, without '..'.",
            code="BMSUserErrorInvalidInput",
            target="properties.restoreFileSpecs",
        )
    return path.strip("/")


def trigger_restore(ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
    """POST ``recoveryPoints/{rp}/restore``: validate the request and queue a restore job; 202 with its ID."""
    from .items import item_row

    assert ctx.conn is not None
    point = point_row(ctx, str(rid))
    item_id = str(rid).rsplit("/recoveryPoints/", 1)[0]
    if point.status == SOFT_DELETED:
        raise Conflict("Undelete the recovery point before restoring it.", code="UserErrorRecoveryPointSoftDeleted")
    item = item_row(ctx, item_id)
    request = body.get("properties") if isinstance(body, dict) else None
    if not isinstance(request, dict):
        raise BadRequest("'properties' must be a JSON object.", code="InvalidRequestContent", target="properties")
    path = item.body["properties"]["friendlyName"]
    recovery_type = request.get("recoveryType", "AlternateLocation")
    if recovery_type == "OriginalLocation":
        target = os.path.dirname(path.rstrip("/")) or "/"
    elif recovery_type == "AlternateLocation":
        target = request.get("targetDirectory")
        if not isinstance(target, str) or not os.path.isabs(target):
            raise BadRequest(
                "targetDirectory must be an absolute directory path on this machine.",
                code="BMSUserErrorInvalidInput",
                target="properties.targetDirectory",
            )
    else:
        raise BadRequest(
            "recoveryType must be 'OriginalLocation' or 'AlternateLocation'.",
            code="BMSUserErrorInvalidInput",
            target="properties.recoveryType",
        )
    kind = request.get("restoreRequestType", "FullRestore")
    if kind not in ("FullRestore", "ItemLevelRestore"):
        raise BadRequest(
            "restoreRequestType must be 'FullRestore' or 'ItemLevelRestore'.",
            code="BMSUserErrorInvalidInput",
            target="properties.restoreRequestType",
        )
    specs = request.get("restoreFileSpecs") or []
    if kind == "ItemLevelRestore" and (not isinstance(specs, list) or not specs):
        raise BadRequest(
            "An item-level restore needs restoreFileSpecs.",
            code="BMSUserErrorInvalidInput",
            target="properties.restoreFileSpecs",
        )
    base = os.path.basename(path.rstrip("/")) or "root"
    if naming.overlaps(os.path.join(target, base), str(ctx.platform.settings.data_dir)):
        raise BadRequest(
            "A restore may not write into or over Warden's data directory.",
            code="BMSUserErrorPathNotAllowed",
            target="properties.targetDirectory",
        )
    include = [f"{base}/{_relative(s)}" for s in specs] if kind == "ItemLevelRestore" else None
    roots = [str(r) for r in ctx.platform.settings.backup_roots]
    if not naming.within(os.path.join(target, base), roots):
        raise BadRequest(
            f"A restore may write only inside the directories this server allows "
            f"({', '.join(roots) or 'none are configured: warden init --backup-root DIR'}).",
            code="BMSUserErrorPathNotAllowed",
            target="properties.targetDirectory",
        )
    if active_job(ctx.conn, ctx.tenant_id, item.id) is not None:
        raise Conflict("A backup or restore of this item is already in progress.", code="UserErrorOperationInProgress")
    job_id = start_job(
        ctx.conn,
        ctx.tenant_id,
        vault_id=naming.vault_of_item(item.id),
        item_id=item.id,
        operation="Restore",
        friendly_name=path,
        request={"snapshotId": point.body["_snapshotId"], "target": target, "include": include},
    )
    link = ctx.link(f"{job_id}?api-version={ctx.api_version or '2025-02-01'}")
    return Reply(202, {"id": job_id, "name": job_id.rsplit("/", 1)[1]}, {"Location": link, "Retry-After": "1"})


def expire_points(platform: Platform, conn: Connection, tenant_id: str, vault_id: str, points: list[Any]) -> None:
    """Delete recovery points for good: their snapshots (data goes at the next prune) and records."""
    from warden.backup.chunkstore import SnapshotNotFound

    from .storage import open_repository

    if not points:
        return
    for point in points:
        delete_record(conn, tenant_id, point.id)
    repo = open_repository(platform, tenant_id, vault_id)
    try:
        for point in points:
            try:
                repo.delete_snapshot(point.body["_snapshotId"])
            except SnapshotNotFound:
                continue
    finally:
        repo.close()
