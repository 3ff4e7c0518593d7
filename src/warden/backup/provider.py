"""Registers the backup types (Recovery Services vaults and their children, resource guards) and jobs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from warden.kernel.providers import ResourceType

from . import guards, vaults

if TYPE_CHECKING:
    from warden.platform import Platform

NAMESPACE = "Microsoft.RecoveryServices"


def register(platform: Platform) -> None:
    registry = platform.registry
    versions = vaults.API_VERSIONS
    registry.register(
        ResourceType(NAMESPACE, ("vaults",), vaults.make_handler(platform), display_name="vault", api_versions=versions)
    )
    registry.register(
        ResourceType(
            "Microsoft.DataProtection",
            ("resourceGuards",),
            guards.make_guard_handler(),
            display_name="resource guard",
            api_versions=guards.GUARD_API_VERSIONS,
        )
    )
    registry.register(
        ResourceType(
            NAMESPACE,
            ("vaults", "backupResourceGuardProxies"),
            guards.ProxyHandler(),  # type: ignore[arg-type]
            display_name="resource guard proxy",
            api_versions=versions,
        )
    )
    for operation in guards.CRITICAL_OPERATIONS:
        registry.add_operation(
            f"{guards.GUARD_TYPE}/{operation}/action", f"Approve the {operation} critical operation of a vault"
        )
