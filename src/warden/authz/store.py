"""Loading RBAC state from the database into the pure engine, and lock checks.

A request builds one engine from the caller's own assignments (and its tenant's deny
assignments), so the cost of a check does not grow with the number of other principals.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from sqlalchemy import Connection, bindparam, or_, select

from warden.authz.engine import (
    AuthorizationEngine,
    DenyAssignment,
    Permission,
    RoleAssignment,
    RoleDefinition,
    scope_ancestors,
)
from warden.authz.roles import load_builtin_roles, role_definition_from_json
from warden.kernel.clock import utcnow
from warden.kernel.errors import ScopeLocked
from warden.kernel.ids import key
from warden.kernel.schema import below, deny_assignments, locks, role_assignments, role_definitions


@cache
def builtin_roles() -> dict[str, RoleDefinition]:
    """Built-in roles by lower-case GUID."""
    return {role.id.lower(): role for role in load_builtin_roles()}


def custom_role(conn: Connection, tenant_id: str, guid: str) -> RoleDefinition | None:
    row = conn.execute(
        select(role_definitions).where(
            role_definitions.c.tenant_id == tenant_id, role_definitions.c.name == guid.lower()
        )
    ).first()
    return role_from_row(row) if row else None


def find_role(conn: Connection, tenant_id: str, guid: str) -> RoleDefinition | None:
    return builtin_roles().get(guid.lower()) or custom_role(conn, tenant_id, guid)


def role_from_row(row) -> RoleDefinition:  # type: ignore[no-untyped-def]
    return role_definition_from_json({"name": row.name, "properties": row.body})


def load_engine(conn: Connection, tenant_id: str, principal_ids: Iterable[str]) -> AuthorizationEngine:
    """An engine holding everything that can decide for these principals in this tenant."""
    ids = [p.lower() for p in principal_ids]
    rows = conn.execute(_ASSIGNMENTS, {"tenant": tenant_id, "ids": ids}).all()
    from warden.authz.pim.grants import inactive_grant_keys  # imported late: pim imports the kernel context

    # A PIM-made assignment grants nothing outside its schedule, even before the expiry sweep deletes it.
    inactive = inactive_grant_keys(conn, tenant_id, ids, utcnow())
    rows = [r for r in rows if r.key not in inactive]
    assignments = [RoleAssignment(r.id, r.scope_key, r.principal_id, r.role_guid) for r in rows]
    guids = {a.role_definition_id.lower() for a in assignments}
    roles = [builtin_roles()[g] for g in guids if g in builtin_roles()]
    custom_guids = [g for g in guids if g not in builtin_roles()]
    if custom_guids:
        roles += [
            role_from_row(r)
            for r in conn.execute(
                select(role_definitions).where(
                    role_definitions.c.tenant_id == tenant_id, role_definitions.c.name.in_(custom_guids)
                )
            )
        ]
    denies = [deny_from_body(r.id, r.scope_key, r.body) for r in conn.execute(_DENIES, {"tenant": tenant_id})]
    return AuthorizationEngine(roles, assignments, denies)


# Built once (load_engine runs on every authorized request): a reused statement keeps its memoized
# cache key, where a fresh one is rebuilt and keyed each time.
_ASSIGNMENTS = select(role_assignments).where(
    role_assignments.c.tenant_id == bindparam("tenant"),
    role_assignments.c.principal_id.in_(bindparam("ids", expanding=True)),
)
_DENIES = select(deny_assignments).where(deny_assignments.c.tenant_id == bindparam("tenant"))


def deny_from_body(deny_id: str, scope_key: str, body: dict) -> DenyAssignment:
    props = body.get("properties", body)
    permissions = tuple(
        Permission(
            tuple(p.get("actions", ())),
            tuple(p.get("notActions", ())),
            tuple(p.get("dataActions", ())),
            tuple(p.get("notDataActions", ())),
        )
        for p in props.get("permissions", ())
    )
    return DenyAssignment(
        id=deny_id,
        scope=scope_key,
        permissions=permissions,
        principal_ids=tuple(p["id"].lower() for p in props.get("principals", ())),
        exclude_principal_ids=tuple(p["id"].lower() for p in props.get("excludePrincipals", ())),
        do_not_apply_to_child_scopes=bool(props.get("doNotApplyToChildScopes", False)),
        name=props.get("denyAssignmentName", ""),
    )


class LockMode:
    WRITE = "write"
    DELETE = "delete"


def check_locks(conn: Connection, tenant_id: str, scope: str, mode: str, *, include_descendants: bool = False) -> None:
    """Raise ``ScopeLocked`` when a lock at ``scope`` or above (or below, for deletes of a
    container) forbids the operation: ``CanNotDelete`` blocks deletes, ``ReadOnly`` blocks
    every change."""
    ancestors = scope_ancestors(scope)
    condition = locks.c.scope_key.in_(ancestors)
    if include_descendants:
        condition = or_(condition, below(locks.c.scope_key, key(scope)))
    for row in conn.execute(select(locks).where(locks.c.tenant_id == tenant_id, condition)):
        if row.level == "ReadOnly" or mode == LockMode.DELETE:
            verb = "delete" if mode == LockMode.DELETE else "update"
            raise ScopeLocked(
                f"The scope '{scope}' cannot perform {verb} operation because following scope(s) are "
                f"locked: '{row.id}'. Please remove the lock and try again.",
                details=[{"code": "ScopeLocked", "target": row.id, "message": f"Lock level: {row.level}"}],
            )
