"""Group membership, direct and transitive (nested groups), as RBAC and Graph's memberOf see it.

Nesting may form cycles (A in B, B in A): every expansion keeps a visited set, so it terminates
and each group appears once.
"""

from __future__ import annotations

from sqlalchemy import Connection, Select, bindparam, select

from warden.identity.schema import group_members, group_owners, groups, users
from warden.kernel.schema import service_principals

# An expansion deeper than this stops; Entra limits nesting in practice and this bounds the work.
MAX_DEPTH = 64


def direct_group_ids(conn: Connection, tenant_id: str, object_id: str) -> tuple[str, ...]:
    """IDs of the groups ``object_id`` (user, group or service principal) is a direct member of."""
    rows = conn.execute(
        select(group_members.c.group_id).where(
            group_members.c.tenant_id == tenant_id, group_members.c.member_id == object_id
        )
    ).scalars()
    return tuple(sorted(rows))


def _transitive_groups_statement() -> Select:
    found = (
        select(group_members.c.group_id.label("group_id"))
        .where(group_members.c.tenant_id == bindparam("tenant"), group_members.c.member_id == bindparam("member"))
        .cte("found", recursive=True)
    )
    parents = select(group_members.c.group_id).join(found, group_members.c.member_id == found.c.group_id)
    found = found.union(parents.where(group_members.c.tenant_id == bindparam("tenant")))
    return select(found.c.group_id)


# Built once: SQLAlchemy memoizes a statement's cache key on the object, so reusing it spares the
# construction and key generation a fresh CTE cost on every authenticated request (~half its time).
_TRANSITIVE_GROUPS = _transitive_groups_statement()


def transitive_group_ids(conn: Connection, tenant_id: str, object_id: str) -> tuple[str, ...]:
    """IDs of every group ``object_id`` belongs to, directly or through nested groups (sorted, no repeats).

    One recursive query (this runs on every authenticated request). ``UNION`` (not ``UNION ALL``)
    drops rows already found, so a cycle of groups ends the recursion instead of looping. A group
    is not reported as a member of itself even if a cycle leads back to it.
    """
    ids = set(conn.execute(_TRANSITIVE_GROUPS, {"tenant": tenant_id, "member": object_id}).scalars())
    ids.discard(object_id)
    return tuple(sorted(ids))


def direct_members(conn: Connection, tenant_id: str, group_id: str) -> list[tuple[str, str]]:
    """``(member_id, member_type)`` of the group's direct members, in the order they were added."""
    rows = conn.execute(
        select(group_members.c.member_id, group_members.c.member_type)
        .where(group_members.c.tenant_id == tenant_id, group_members.c.group_id == group_id)
        .order_by(group_members.c.added_at, group_members.c.member_id)
    ).all()
    return [(row.member_id, row.member_type) for row in rows]


def transitive_members(conn: Connection, tenant_id: str, group_id: str) -> list[tuple[str, str]]:
    """``(member_id, member_type)`` of every member, through nested groups; nested groups are listed too."""
    found: dict[str, str] = {}
    frontier = [group_id]
    visited = {group_id}
    for _ in range(MAX_DEPTH):
        if not frontier:
            break
        nested: list[str] = []
        for gid in frontier:
            for member_id, member_type in direct_members(conn, tenant_id, gid):
                if member_id == group_id:
                    continue
                found.setdefault(member_id, member_type)
                if member_type == "group" and member_id not in visited:
                    visited.add(member_id)
                    nested.append(member_id)
        frontier = nested
    return list(found.items())


def owner_ids(conn: Connection, tenant_id: str, group_id: str) -> tuple[str, ...]:
    """Object IDs of the group's owners."""
    rows = conn.execute(
        select(group_owners.c.owner_id).where(
            group_owners.c.tenant_id == tenant_id, group_owners.c.group_id == group_id
        )
    ).scalars()
    return tuple(sorted(rows))


def is_owner(conn: Connection, tenant_id: str, group_id: str, principal_ids: tuple[str, ...] | list[str]) -> bool:
    """True when any of ``principal_ids`` owns the group."""
    owners = set(owner_ids(conn, tenant_id, group_id))
    return any(pid in owners for pid in principal_ids)


def group_exists(conn: Connection, tenant_id: str, group_id: str) -> bool:
    return (
        conn.execute(
            select(groups.c.object_id).where(groups.c.tenant_id == tenant_id, groups.c.object_id == group_id)
        ).first()
        is not None
    )


def directory_object_kind(conn: Connection, tenant_id: str, object_id: str) -> str | None:
    """``"user"``, ``"group"`` or ``"servicePrincipal"`` for an object of ``tenant_id``; ``None`` if absent."""
    for table, kind in ((users, "user"), (groups, "group"), (service_principals, "servicePrincipal")):
        row = conn.execute(
            select(table.c.object_id).where(table.c.tenant_id == tenant_id, table.c.object_id == object_id.lower())
        ).first()
        if row is not None:
            return kind
    return None
