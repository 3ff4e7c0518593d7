"""Registers the Microsoft.Authorization types with the resource-type registry."""

from __future__ import annotations

from warden.authz.deny_assignments import DenyAssignmentHandler
from warden.authz.locks import LockHandler
from warden.authz.role_assignments import RoleAssignmentHandler
from warden.authz.role_definitions import RoleDefinitionHandler
from warden.kernel.providers import EXTENSION, ProviderRegistry, ResourceType

NAMESPACE = "Microsoft.Authorization"
API_VERSIONS = ("2022-04-01", "2020-05-01", "2016-09-01")
PERMISSIONS_READ = "Microsoft.Authorization/permissions/read"


def register(registry: ProviderRegistry) -> None:
    everywhere = frozenset({EXTENSION})
    for name, handler, label in (
        ("roleDefinitions", RoleDefinitionHandler(), "role definition"),
        ("roleAssignments", RoleAssignmentHandler(), "role assignment"),
        ("denyAssignments", DenyAssignmentHandler(), "deny assignment"),
        ("locks", LockHandler(), "management lock"),
    ):
        registry.register(
            ResourceType(
                NAMESPACE, (name,), handler, placements=everywhere, display_name=label, api_versions=API_VERSIONS
            )
        )
