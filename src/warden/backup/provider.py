"""Registers the backup types (Recovery Services vaults and their children, resource guards) and jobs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from warden.kernel.providers import Action, ResourceType

from . import encryption, guards, items, jobs, policies, recovery_points, vault_config, vaults

if TYPE_CHECKING:
    from warden.platform import Platform

NAMESPACE = "Microsoft.RecoveryServices"
ITEM = ("vaults", "backupFabrics", "protectionContainers", "protectedItems")


def register(platform: Platform) -> None:
    registry = platform.registry
    versions = vaults.API_VERSIONS

    def add(types: tuple[str, ...], handler: object, label: str, namespace: str = NAMESPACE) -> ResourceType:
        api = guards.GUARD_API_VERSIONS if namespace != NAMESPACE else versions
        return registry.register(
            ResourceType(namespace, types, handler, display_name=label, api_versions=api)  # type: ignore[arg-type]
        )

    vault = add(("vaults",), vaults.make_handler(platform), "vault")
    vault.add_action(
        Action("checkIntegrity", jobs.trigger_check, description="Check the vault's repository (optionally every blob)")
    )
    vault.add_action(
        Action(
            "customerManagedKey",
            encryption.set_customer_key,
            description="Wrap the vault's repository key under a customer-supplied key (rotates the previous one)",
        )
    )
    add(("resourceGuards",), guards.make_guard_handler(), "resource guard", "Microsoft.DataProtection")
    add(("vaults", "backupResourceGuardProxies"), guards.ProxyHandler(), "resource guard proxy")
    add(("vaults", "backupPolicies"), policies.PolicyHandler(), "backup policy")
    add(("vaults", "backupconfig"), vault_config.VaultConfigHandler(), "vault backup config")
    add(("vaults", "backupstorageconfig"), vault_config.StorageConfigHandler(), "vault storage config")
    item = add(ITEM, items.ItemsHandler(), "protected item")
    item.add_action(Action("backup", items.trigger_backup, description="Back up a protected item now"))
    add(("vaults", "backupProtectedItems"), items.VaultItemsHandler(), "protected items of a vault")
    point = add((*ITEM, "recoveryPoints"), recovery_points.PointsHandler(), "recovery point")
    point.add_action(Action("restore", recovery_points.trigger_restore, description="Restore a recovery point"))
    point.add_action(
        Action("undelete", recovery_points.undelete, description="Bring back a soft-deleted recovery point")
    )
    job = add(("vaults", "backupJobs"), jobs.JobsHandler(), "backup job")
    job.add_action(Action("cancel", jobs.cancel, description="Cancel a running backup job"))
    for operation in guards.CRITICAL_OPERATIONS:
        registry.add_operation(
            f"{guards.GUARD_TYPE}/{operation}/action", f"Approve the {operation} critical operation of a vault"
        )

    from .runner import run_job

    platform.jobs.register(jobs.RUN_JOB, lambda payload: run_job(platform, payload))
