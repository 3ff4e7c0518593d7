"""``vaults/{vault}/backupconfig/vaultconfig`` and ``vaults/{vault}/backupstorageconfig/vaultstorageconfig``.

Azure's older view of a vault's backup settings, which its REST docs and SDK still use (e.g. to turn
soft delete off). ``vaultconfig`` is a window onto the vault's ``securitySettings.softDeleteSettings``:
reads and writes go to the vault, through the same rules (AlwaysON is permanent, disabling needs the
resource guard's approval on an MUA vault). ``vaultstorageconfig`` reports the one storage model
Warden has, locally redundant (a local directory or the configured object store).
"""

from __future__ import annotations

from typing import Any

from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest, MethodNotAllowed, NotFound
from warden.kernel.ids import ResourceId
from warden.kernel.reply import Reply
from warden.kernel.resources import require_object, update_resource

CONFIG_TYPE = "Microsoft.RecoveryServices/vaults/backupconfig"
STORAGE_TYPE = "Microsoft.RecoveryServices/vaults/backupstorageconfig"


def _config_json(vault: Any, rid: ResourceId) -> dict[str, Any]:
    from .vaults import SoftDeleteState, security

    state, days, _ = security(vault.body.get("properties", {}))
    return {
        "id": str(rid),
        "name": rid.name,
        "type": CONFIG_TYPE,
        "properties": {
            "enhancedSecurityState": "Enabled",
            "softDeleteFeatureState": state,
            "softDeleteRetentionPeriodInDays": days,
            "isSoftDeleteFeatureStateEditable": state != SoftDeleteState.ALWAYS_ON,
        },
    }


class VaultConfigHandler:
    def _vault(self, ctx: RequestContext, rid: ResourceId) -> Any:
        from .vaults import vault_of

        assert ctx.conn is not None
        if rid.name.lower() != "vaultconfig":
            raise NotFound(f"The vault config '{rid.name}' was not found; it is named 'vaultconfig'.")
        return vault_of(ctx.conn, ctx.tenant_id, rid.parent)

    def get(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        return Reply(200, _config_json(self._vault(ctx, rid), rid))

    def put(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        from .vaults import MAX_SOFT_DELETE_DAYS, MIN_SOFT_DELETE_DAYS, SoftDeleteState, _merge_security

        vault = self._vault(ctx, rid)
        properties = require_object(require_object(body).get("properties", {}))
        soft: dict[str, Any] = {}
        if "softDeleteFeatureState" in properties:
            state = properties["softDeleteFeatureState"]
            if state not in {s.value for s in SoftDeleteState}:
                raise BadRequest(
                    "softDeleteFeatureState must be Enabled, Disabled or AlwaysON.",
                    code="BMSUserErrorInvalidInput",
                    target="properties.softDeleteFeatureState",
                )
            soft["softDeleteState"] = state
        if "softDeleteRetentionPeriodInDays" in properties:
            days = properties["softDeleteRetentionPeriodInDays"]
            if (
                not isinstance(days, int)
                or isinstance(days, bool)
                or not MIN_SOFT_DELETE_DAYS <= days <= MAX_SOFT_DELETE_DAYS
            ):
                raise BadRequest(
                    f"softDeleteRetentionPeriodInDays must be {MIN_SOFT_DELETE_DAYS}-{MAX_SOFT_DELETE_DAYS}.",
                    code="BMSUserErrorInvalidInput",
                    target="properties.softDeleteRetentionPeriodInDays",
                )
            soft["softDeleteRetentionPeriodInDays"] = days
        old = vault.body.get("properties", {})
        merged = _merge_security(ctx, {"securitySettings": {"softDeleteSettings": soft}}, old, vault.id)
        row = update_resource(ctx, vault, body={**vault.body, "properties": {**old, "securitySettings": merged}})
        return Reply(200, _config_json(row, rid))

    patch = put

    def delete(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        raise MethodNotAllowed("The vault config cannot be deleted.")

    def list(self, ctx: RequestContext, scope: str, parent: ResourceId | None) -> list[dict[str, Any]]:
        assert parent is not None
        rid = ResourceId(
            parent.scope, parent.namespace, (*parent.types, "backupconfig"), (*parent.names, "vaultconfig")
        )
        return [_config_json(self._vault(ctx, rid), rid)]


class StorageConfigHandler(VaultConfigHandler):
    def _vault(self, ctx: RequestContext, rid: ResourceId) -> Any:
        from .vaults import vault_of

        assert ctx.conn is not None
        if rid.name.lower() != "vaultstorageconfig":
            raise NotFound(f"The storage config '{rid.name}' was not found; it is named 'vaultstorageconfig'.")
        return vault_of(ctx.conn, ctx.tenant_id, rid.parent)

    def get(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        self._vault(ctx, rid)
        properties = {
            "storageModelType": "LocallyRedundant",
            "storageType": "LocallyRedundant",
            "storageTypeState": "Locked",
            "crossRegionRestoreFlag": False,
        }
        return Reply(200, {"id": str(rid), "name": rid.name, "type": STORAGE_TYPE, "properties": properties})

    def put(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        properties = require_object(require_object(body).get("properties", {}))
        for name in ("storageModelType", "storageType"):
            if properties.get(name, "LocallyRedundant") != "LocallyRedundant":
                raise BadRequest(
                    "Warden stores vault data locally redundant only.",
                    code="BMSUserErrorInvalidInput",
                    target=f"properties.{name}",
                )
        if properties.get("crossRegionRestoreFlag"):
            raise BadRequest(
                "Cross-region restore is not available.",
                code="BMSUserErrorInvalidInput",
                target="properties.crossRegionRestoreFlag",
            )
        return self.get(ctx, rid)

    patch = put

    def list(self, ctx: RequestContext, scope: str, parent: ResourceId | None) -> list[dict[str, Any]]:
        assert parent is not None
        types, names = (*parent.types, "backupstorageconfig"), (*parent.names, "vaultstorageconfig")
        return [self.get(ctx, ResourceId(parent.scope, parent.namespace, types, names)).body]
