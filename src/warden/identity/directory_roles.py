"""Entra directory roles: the built-in role definitions, who holds them, and what they allow.

Role definitions carry Entra's published template IDs and ``microsoft.directory/...`` resource
actions; Graph operations are named by those actions, so "may this caller do X" is one match of
the operation against the actions of the roles the caller (or one of its groups) holds.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from warden.identity.schema import directory_role_assignments
from warden.kernel.clock import isoformat, utcnow

READ_ALL = "microsoft.directory/*/read"


@dataclass(frozen=True)
class DirectoryRole:
    template_id: str
    display_name: str
    description: str
    allowed_actions: tuple[str, ...]


BUILTIN_ROLES = (
    DirectoryRole(
        "62e90394-69f5-4237-9190-012177145e10",
        "Global Administrator",
        "Can manage all aspects of Microsoft Entra ID and Microsoft services that use Microsoft Entra identities.",
        ("microsoft.directory/*",),
    ),
    DirectoryRole(
        "fe930be7-5e62-47db-91af-98c3a49a38b1",
        "User Administrator",
        "Can manage all aspects of users and groups, including resetting passwords for limited admins.",
        ("microsoft.directory/users/*", "microsoft.directory/groups/*", READ_ALL),
    ),
    DirectoryRole(
        "fdd7a751-b60b-444a-984c-02652fe8fa1c",
        "Groups Administrator",
        "Members of this role can create/manage groups, create/manage groups settings like naming and expiration "
        "policies, and view groups activity and audit reports.",
        ("microsoft.directory/groups/*", READ_ALL),
    ),
    DirectoryRole(
        "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
        "Application Administrator",
        "Can create and manage all aspects of app registrations and enterprise apps.",
        ("microsoft.directory/applications/*", "microsoft.directory/servicePrincipals/*", READ_ALL),
    ),
    DirectoryRole(
        "194ae4cb-b126-40b2-bd5b-6091b380977d",
        "Security Administrator",
        "Can read security information and reports, and manage configuration in Microsoft Entra ID and Office 365.",
        (READ_ALL, "microsoft.directory/auditLogs/allProperties/read", "microsoft.directory/signInReports/*"),
    ),
    DirectoryRole(
        "5d6b6bb7-de71-4623-b4af-96380a352509",
        "Security Reader",
        "Can read security information and reports in Microsoft Entra ID and Office 365.",
        (READ_ALL, "microsoft.directory/auditLogs/allProperties/read", "microsoft.directory/signInReports/*"),
    ),
    DirectoryRole(
        "4a5d8f65-41da-4de4-8968-e035b65339cf",
        "Reports Reader",
        "Can read sign-in and audit reports.",
        ("microsoft.directory/auditLogs/allProperties/read", "microsoft.directory/signInReports/allProperties/read"),
    ),
)
ROLES_BY_TEMPLATE = {role.template_id: role for role in BUILTIN_ROLES}
ROLES_BY_NAME = {role.display_name.lower(): role for role in BUILTIN_ROLES}
GLOBAL_ADMINISTRATOR = BUILTIN_ROLES[0].template_id


def find_role(name_or_template_id: str) -> DirectoryRole | None:
    """The built-in role with this template ID or display name (case-insensitive), or ``None``."""
    text = name_or_template_id.strip().lower()
    return ROLES_BY_TEMPLATE.get(text) or ROLES_BY_NAME.get(text)


def role_definition_json(role: DirectoryRole) -> dict[str, Any]:
    """Graph's ``unifiedRoleDefinition`` for a built-in role (its id is the template ID, as in Entra)."""
    return {
        "id": role.template_id,
        "description": role.description,
        "displayName": role.display_name,
        "isBuiltIn": True,
        "isEnabled": True,
        "resourceScopes": ["/"],
        "templateId": role.template_id,
        "version": "1",
        "rolePermissions": [{"allowedResourceActions": list(role.allowed_actions), "condition": None}],
        "inheritsPermissionsFrom": [],
    }


def assign_role(conn: Connection, tenant_id: str, template_id: str, principal_id: str) -> dict[str, Any]:
    """Give ``principal_id`` the role across the whole directory; return the Graph assignment.

    Assigning a role already held returns the existing assignment (nothing is duplicated).
    """
    existing = conn.execute(
        select(directory_role_assignments).where(
            directory_role_assignments.c.tenant_id == tenant_id,
            directory_role_assignments.c.role_template_id == template_id,
            directory_role_assignments.c.principal_id == principal_id,
        )
    ).first()
    if existing is not None:
        return assignment_json(existing)
    values = {
        "id": str(uuid.uuid4()),
        "tenant_id": tenant_id,
        "role_template_id": template_id,
        "principal_id": principal_id,
        "directory_scope_id": "/",
        "created_at": utcnow(),
    }
    conn.execute(insert(directory_role_assignments).values(**values))
    return assignment_json(type("Row", (), values))


def assignment_json(row: Any) -> dict[str, Any]:
    """Graph's ``unifiedRoleAssignment``."""
    return {
        "id": row.id,
        "principalId": row.principal_id,
        "roleDefinitionId": row.role_template_id,
        "directoryScopeId": row.directory_scope_id,
        "appScopeId": None,
        "createdDateTime": isoformat(row.created_at),
    }


def list_assignments(conn: Connection, tenant_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(directory_role_assignments)
        .where(directory_role_assignments.c.tenant_id == tenant_id)
        .order_by(directory_role_assignments.c.created_at, directory_role_assignments.c.id)
    ).all()
    return [assignment_json(row) for row in rows]


def get_assignment(conn: Connection, tenant_id: str, assignment_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(directory_role_assignments).where(
            directory_role_assignments.c.tenant_id == tenant_id, directory_role_assignments.c.id == assignment_id
        )
    ).first()
    return assignment_json(row) if row else None


def remove_assignment(conn: Connection, tenant_id: str, assignment_id: str) -> None:
    conn.execute(
        delete(directory_role_assignments).where(
            directory_role_assignments.c.tenant_id == tenant_id, directory_role_assignments.c.id == assignment_id
        )
    )


def remove_principal(conn: Connection, tenant_id: str, principal_id: str) -> None:
    """Drop every role a deleted principal held."""
    conn.execute(
        delete(directory_role_assignments).where(
            directory_role_assignments.c.tenant_id == tenant_id,
            directory_role_assignments.c.principal_id == principal_id,
        )
    )


def held_roles(conn: Connection, tenant_id: str, principal_ids: tuple[str, ...] | list[str]) -> list[DirectoryRole]:
    """The built-in roles held by any of ``principal_ids`` (a caller and its transitive groups)."""
    if not principal_ids:
        return []
    guids = conn.execute(
        select(directory_role_assignments.c.role_template_id).where(
            directory_role_assignments.c.tenant_id == tenant_id,
            directory_role_assignments.c.principal_id.in_([p.lower() for p in principal_ids]),
        )
    ).scalars()
    return [ROLES_BY_TEMPLATE[g] for g in sorted(set(guids)) if g in ROLES_BY_TEMPLATE]


def has_directory_role(
    conn: Connection,
    tenant_id: str,
    principal_ids: tuple[str, ...] | list[str],
    role_names: tuple[str, ...] | list[str],
) -> bool:
    """True when any of ``principal_ids`` holds one of ``role_names`` (display names or template IDs)."""
    wanted = {role.template_id for name in role_names if (role := find_role(name)) is not None}
    return any(role.template_id in wanted for role in held_roles(conn, tenant_id, principal_ids))


def roles_allow(roles: list[DirectoryRole], action: str) -> bool:
    """True when one of ``roles`` allows the ``microsoft.directory/...`` ``action``."""
    action = action.lower()
    return any(fnmatchcase(action, pattern.lower()) for role in roles for pattern in role.allowed_actions)
