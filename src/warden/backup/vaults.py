"""``Microsoft.RecoveryServices/vaults``: Recovery Services vaults with soft delete, immutability and MUA state.

Rules Azure enforces and Warden follows:

* ``sku.name`` is ``RS0`` (tier ``Standard``) or ``Standard``.
* Soft delete (``securitySettings.softDeleteSettings``) is on by default for 14 days; the period is
  14-180 days. ``AlwaysON`` can never be turned off again; turning ``Enabled`` off needs the
  resource guard's approval when the vault is MUA-protected (see ``guards.py``).
* Immutability goes ``Disabled`` → ``Unlocked`` → ``Locked``; ``Locked`` is irreversible.
* A vault holding protected items or recovery points (even soft-deleted ones) cannot be deleted.

A PUT or PATCH that leaves out a security setting keeps the stored one (so an update of tags or
one setting never silently turns soft delete off).
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Connection

from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest, Conflict, NotFound
from warden.kernel.ids import ResourceId
from warden.kernel.reply import Reply
from warden.kernel.resources import GenericResourceHandler, get_row, resource_json, update_resource

from .storage import VAULT_GUID_FIELD, VAULT_TYPE

if TYPE_CHECKING:
    from warden.platform import Platform

API_VERSIONS = ("2026-11-01", "2025-08-01", "2025-02-01", "2024-10-01", "2024-04-01", "2023-04-01")
MIN_SOFT_DELETE_DAYS, MAX_SOFT_DELETE_DAYS, DEFAULT_SOFT_DELETE_DAYS = 14, 180, 14


class SoftDeleteState(StrEnum):
    ENABLED = "Enabled"
    DISABLED = "Disabled"
    ALWAYS_ON = "AlwaysON"


class ImmutabilityState(StrEnum):
    DISABLED = "Disabled"
    UNLOCKED = "Unlocked"
    LOCKED = "Locked"


class SoftDeleteSettings(BaseModel):
    model_config = ConfigDict(extra="ignore")
    softDeleteState: SoftDeleteState | None = None
    softDeleteRetentionPeriodInDays: int | None = Field(default=None, ge=MIN_SOFT_DELETE_DAYS, le=MAX_SOFT_DELETE_DAYS)
    enhancedSecurityState: str | None = None


class ImmutabilitySettings(BaseModel):
    model_config = ConfigDict(extra="ignore")
    state: ImmutabilityState | None = None


class SecuritySettings(BaseModel):
    model_config = ConfigDict(extra="ignore")
    softDeleteSettings: SoftDeleteSettings | None = None
    immutabilitySettings: ImmutabilitySettings | None = None


class VaultProperties(BaseModel):
    model_config = ConfigDict(extra="ignore")
    securitySettings: SecuritySettings | None = None
    publicNetworkAccess: str | None = None


SKUS = {"rs0": {"name": "RS0", "tier": "Standard"}, "standard": {"name": "Standard", "tier": "Standard"}}


def validate_sku(value: Any) -> dict[str, str]:
    """Return the stored sku for a request's ``sku``; raise BadRequest for an unknown one."""
    if value is None:
        return dict(SKUS["rs0"])
    name = value.get("name") if isinstance(value, dict) else None
    if not isinstance(name, str) or name.lower() not in SKUS:
        raise BadRequest(
            f"The sku '{name}' is not supported; use 'RS0' or 'Standard'.", code="InvalidSku", target="sku"
        )
    return dict(SKUS[name.lower()])


def security(properties: dict[str, Any]) -> tuple[str, int, str]:
    """Return (softDeleteState, softDeleteRetentionPeriodInDays, immutability state) of stored vault properties."""
    settings = properties.get("securitySettings", {})
    soft = settings.get("softDeleteSettings", {})
    return (
        soft.get("softDeleteState", SoftDeleteState.ENABLED),
        soft.get("softDeleteRetentionPeriodInDays", DEFAULT_SOFT_DELETE_DAYS),
        settings.get("immutabilitySettings", {}).get("state", ImmutabilityState.DISABLED),
    )


def is_immutable(properties: dict[str, Any]) -> bool:
    """Whether the vault's immutability is Unlocked or Locked (retention may not shrink, points may not be deleted)."""
    return security(properties)[2] != ImmutabilityState.DISABLED


def _merge_security(ctx: RequestContext, new: dict[str, Any], old: dict[str, Any], vault_id: str) -> dict[str, Any]:
    """Combine requested and stored security settings and refuse the transitions Azure refuses."""
    from .guards import require_mua

    old_state, old_days, old_immutability = security(old)
    asked = new.get("securitySettings", {})
    soft = asked.get("softDeleteSettings", {})
    state = soft.get("softDeleteState", old_state)
    days = soft.get("softDeleteRetentionPeriodInDays", old_days)
    immutability = asked.get("immutabilitySettings", {}).get("state", old_immutability)
    if old_state == SoftDeleteState.ALWAYS_ON and state != SoftDeleteState.ALWAYS_ON:
        raise BadRequest(
            "Soft delete is always on for this vault and cannot be disabled or changed back to Enabled.",
            code="UserErrorSoftDeleteAlwaysOnCannotBeChanged",
            target="properties.securitySettings.softDeleteSettings.softDeleteState",
        )
    if old_immutability == ImmutabilityState.LOCKED and immutability != ImmutabilityState.LOCKED:
        raise BadRequest(
            "Immutability is locked for this vault and cannot be disabled or unlocked.",
            code="UserErrorImmutabilityLockedCannotBeChanged",
            target="properties.securitySettings.immutabilitySettings.state",
        )
    if old_state != SoftDeleteState.DISABLED and state == SoftDeleteState.DISABLED:
        require_mua(ctx, vault_id, "disableSoftDeleteRequests")
    result = dict(old.get("securitySettings", {}))
    result["softDeleteSettings"] = {
        "softDeleteState": str(state),
        "softDeleteRetentionPeriodInDays": days,
        "enhancedSecurityState": "AlwaysON" if state == SoftDeleteState.ALWAYS_ON else "Enabled",
    }
    result["immutabilitySettings"] = {"state": str(immutability)}
    result.setdefault("multiUserAuthorization", "Disabled")
    return result


class VaultHandler(GenericResourceHandler):
    """The generic store plus the vault's sku, security rules, storage guid and delete checks."""

    def __init__(self, platform: Platform) -> None:
        super().__init__(VAULT_TYPE, VaultProperties)
        self.platform = platform

    def put(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        sku = validate_sku(body.get("sku") if isinstance(body, dict) else None)
        reply = super().put(ctx, rid, body)
        return self._finish(ctx, rid, sku, reply.status)

    def patch(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        sku = validate_sku(body["sku"]) if isinstance(body, dict) and "sku" in body else None
        reply = super().patch(ctx, rid, body)
        return self._finish(ctx, rid, sku, reply.status)

    def _finish(self, ctx: RequestContext, rid: ResourceId, sku: dict[str, str] | None, status: int) -> Reply:
        assert ctx.conn is not None
        row = get_row(ctx.conn, ctx.tenant_id, str(rid))
        body = dict(row.body)
        body.setdefault(VAULT_GUID_FIELD, str(uuid.uuid4()))
        body["sku"] = sku or body.get("sku") or dict(SKUS["rs0"])
        row = update_resource(ctx, row, body=body)
        return Reply(status, resource_json(row), {"ETag": row.etag})

    def delete(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        assert ctx.conn is not None
        existing = get_row(ctx.conn, ctx.tenant_id, str(rid))
        if existing is not None:
            from .records import count_vault_records

            items = count_vault_records(ctx.conn, ctx.tenant_id, existing.id)
            if items:
                raise Conflict(
                    "Vault cannot be deleted as there are existing resources within the vault. Please ensure there "
                    "are no backup items (including soft-deleted ones) or recovery points in the vault.",
                    code="ServiceResourceNotEmpty",
                )
        reply = super().delete(ctx, rid)
        if existing is not None:
            from .storage import remove_vault_storage

            remove_vault_storage(self.platform, existing.body.get(VAULT_GUID_FIELD, "missing"))
        # The SDK accepts 202 or 204 (not 200): the delete finished within the request.
        return Reply(204) if reply.status == 200 else reply

    def release(self, conn: Connection, tenant_id: str, row: Any) -> None:
        """Free what a vault holds when it goes with its resource group: job and recovery-point records and
        its repository directory (a vault deleted on its own was checked to be empty first)."""
        from .records import delete_vault_records
        from .storage import remove_vault_storage

        delete_vault_records(conn, tenant_id, row.id)
        remove_vault_storage(self.platform, row.body.get(VAULT_GUID_FIELD, "missing"))


def on_write(ctx: RequestContext, rid: ResourceId, properties: dict[str, Any], existing: Any) -> dict[str, Any]:
    """Fill Azure's read-only vault properties and apply the security rules; return the properties to store."""
    old = existing.body.get("properties", {}) if existing is not None else {}
    properties["securitySettings"] = _merge_security(ctx, properties, old, str(rid))
    properties.setdefault("publicNetworkAccess", old.get("publicNetworkAccess", "Enabled"))
    properties["privateEndpointStateForBackup"] = "None"
    properties["privateEndpointStateForSiteRecovery"] = "None"
    properties["backupStorageVersion"] = "V2"
    properties["redundancySettings"] = {
        "standardTierStorageRedundancy": "LocallyRedundant",
        "crossRegionRestore": "Disabled",
    }
    properties["secureScore"] = "None"
    # Platform-managed by default; POST customerManagedKey switches (encryption.py), and a PUT keeps it.
    properties["encryption"] = old.get("encryption", {"infrastructureEncryption": "Disabled"})
    return properties


def make_handler(platform: Platform) -> VaultHandler:
    handler = VaultHandler(platform)
    handler.on_write = on_write
    return handler


def vault_of(conn: Connection, tenant_id: str, vault_id: str) -> Any:
    """Return the vault row; raise ARM's ResourceNotFound."""
    row = get_row(conn, tenant_id, vault_id)
    if row is None or row.type.lower() != VAULT_TYPE.lower():
        name = vault_id.rstrip("/").rsplit("/", 1)[-1]
        raise NotFound(f"The Resource '{VAULT_TYPE}/{name}' was not found.", code="ResourceNotFound")
    return row


def validation_error(error: ValidationError, where: str) -> BadRequest:
    """Azure's BadRequest for the first problem pydantic found under ``where``."""
    first = error.errors()[0]
    target = ".".join(str(p) for p in (where, *first["loc"]))
    return BadRequest(f"Invalid value for '{target}': {first['msg']}.", code="BMSUserErrorInvalidInput", target=target)
